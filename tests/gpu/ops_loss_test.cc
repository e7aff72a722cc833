// CUDA cross-entropy (plain and vocabulary-parallel) and MSE against the CPU
// ops (ops/cpu/loss.h), fp32 and bf16, on fresh random inputs
// (gpu_compare.h): ignored targets, vocabularies that are not multiples of
// the block size, up to GPT-2's 50257; and determinism (two runs, the same
// bits).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <type_traits>

#include "common/ops/cpu/loss.h"
#include "common/ops/cuda/block_reduce.h"
#include "common/ops/cuda/cuda_backend.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/cuda/loss.h"
#include "tests/gpu/gpu_fixture.h"

namespace braid::gputest {
namespace {

using cuda::bf16;

class LossGpuTest : public GpuTest {};

// Targets in [0, V), about a fifth of them -1 (ignored).
std::vector<int32_t> RandomTargets(int64_t N, int64_t V, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<int32_t> t(static_cast<size_t>(N));
  for (auto& x : t) x = g() % 5 == 0 ? -1 : static_cast<int32_t>(g() % static_cast<uint64_t>(V));
  if (N > 1) t[1] = -1;
  if (N > 2) t[2] = static_cast<int32_t>(V - 1);
  return t;
}

template <typename T>
std::vector<T> AsT(const std::vector<float>& v) {
  if constexpr (std::is_same_v<T, bf16>)
    return ToBf16(v);
  else
    return v;
}

template <typename T>
std::vector<float> Rounded(std::vector<float> v) {
  if constexpr (std::is_same_v<T, bf16>) v = RoundBf16(v);
  return v;
}

struct CeResult {
  std::vector<float> losses, dlogits;
  double sum = 0;
  int64_t count = 0;
};

template <typename T>
CeResult RunCrossEntropy(GpuTest* t, const std::vector<float>& x, const std::vector<int32_t>& targets,
                         const std::vector<float>& dx0, int64_t N, int64_t V, float scale) {
  auto d_x = t->Up(AsT<T>(x));
  auto d_t = t->Up(targets);
  auto d_dx = t->Up(AsT<T>(dx0));
  auto d_losses = t->Zeros<float>(N);
  auto d_sum = t->Zeros<double>(1);
  auto d_count = t->Zeros<int64_t>(1);
  ops::cuda::cross_entropy_forward(d_losses.data(), d_sum.data(), d_count.data(), d_x.data(), d_t.data(), N, V);
  ops::cuda::cross_entropy_backward(d_dx.data(), d_x.data(), d_t.data(), N, V, scale);
  CeResult r;
  r.losses = t->Down(d_losses);
  r.dlogits = t->DownF(d_dx);
  r.sum = t->Down(d_sum).at(0);
  r.count = t->Down(d_count).at(0);
  return r;
}

template <typename T>
void CheckCrossEntropy(GpuTest* t, int64_t N, int64_t V, double grad_bound) {
  SCOPED_TRACE("N=" + std::to_string(N) + " V=" + std::to_string(V) + (std::is_same_v<T, bf16> ? " bf16" : " fp32"));
  const uint64_t seed = TestSeed("ce" + std::to_string(V) + (std::is_same_v<T, bf16> ? "bf16" : "fp32"));
  const auto x = Rounded<T>(RandomVector(N * V, seed, -6.f, 6.f));
  const auto dx0 = Rounded<T>(RandomVector(N * V, seed + 1));
  const auto targets = RandomTargets(N, V, seed + 2);
  const float scale = 1.f / 7.f;

  std::vector<float> losses_ref(static_cast<size_t>(N)), dx_ref = dx0;
  int64_t count_ref = 0;
  const double sum_ref = ops::cross_entropy_host(losses_ref.data(), x.data(), targets.data(), N, V, &count_ref);
  ops::cross_entropy_backward(dx_ref.data(), x.data(), targets.data(), N, V, scale);

  const CeResult r = RunCrossEntropy<T>(t, x, targets, dx0, N, V, scale);
  // The logits are the same floats on both sides; only the gradient's store is bf16.
  EXPECT_LE(NormalisedError(r.losses, losses_ref), kFp32Bound);
  EXPECT_NEAR(r.sum, sum_ref, kFp32Bound * std::max(1.0, std::fabs(sum_ref)));
  EXPECT_EQ(r.count, count_ref);
  EXPECT_LE(NormalisedError(r.dlogits, dx_ref), grad_bound);
  for (int64_t n = 0; n < N; ++n) {
    if (targets[size_t(n)] < 0) {
      EXPECT_EQ(r.losses[size_t(n)], 0.f) << n;
    }
  }

  const CeResult again = RunCrossEntropy<T>(t, x, targets, dx0, N, V, scale);
  EXPECT_EQ(again.losses, r.losses);
  EXPECT_EQ(again.dlogits, r.dlogits);
  EXPECT_EQ(again.sum, r.sum);
}

TEST_F(LossGpuTest, CrossEntropyMatchesCpu) {
  for (int64_t V : {1, 5, 264, 1000, 2047, 2048, 3001, 50257}) {
    const int64_t N = V > 10000 ? 17 : 67;
    CheckCrossEntropy<float>(this, N, V, kFp32Bound);
    CheckCrossEntropy<bf16>(this, N, V, kBf16Bound);
  }
}

TEST_F(LossGpuTest, CrossEntropyOfNoRowsIsZero) {
  auto d_sum = Up(std::vector<double>{5.0});
  auto d_count = Up(std::vector<int64_t>{5});
  ops::cuda::cross_entropy_forward<float>(nullptr, d_sum.data(), d_count.data(), nullptr, nullptr, 0, 10);
  EXPECT_EQ(Down(d_sum).at(0), 0.0);
  EXPECT_EQ(Down(d_count).at(0), 0);
}

TEST_F(LossGpuTest, CrossEntropyOfLargeLogitsIsFinite) {
  const int64_t N = 3, V = 1000;
  std::vector<float> x(size_t(N * V), -50.f);
  x[10] = 80.f;           // row 0: one dominant logit
  x[V + 999] = 88.f;      // row 1: near float exp's overflow, last column
  x[2 * V] = -1e4f;       // row 2: a very negative logit
  const std::vector<int32_t> targets = {10, 0, 0};
  std::vector<float> ref(static_cast<size_t>(N)), dx_ref(static_cast<size_t>(N * V), 0.f);
  int64_t count = 0;
  ops::cross_entropy_host(ref.data(), x.data(), targets.data(), N, V, &count);
  ops::cross_entropy_backward(dx_ref.data(), x.data(), targets.data(), N, V, 1.f);
  const CeResult r = RunCrossEntropy<float>(this, x, targets, std::vector<float>(size_t(N * V), 0.f), N, V, 1.f);
  for (int64_t n = 0; n < N; ++n) EXPECT_NEAR(r.losses[size_t(n)], ref[size_t(n)], 1e-5 * (1 + std::fabs(ref[size_t(n)])));
  EXPECT_LE(NormalisedError(r.dlogits, dx_ref), kFp32Bound);
}

template <typename T>
void CheckMse(GpuTest* t, int64_t n, double grad_bound) {
  SCOPED_TRACE("n=" + std::to_string(n) + (std::is_same_v<T, bf16> ? " bf16" : " fp32"));
  const uint64_t seed = TestSeed("mse" + std::to_string(n));
  const auto p = Rounded<T>(RandomVector(n, seed, -3.f, 3.f));
  const auto q = Rounded<T>(RandomVector(n, seed + 1));
  const auto d0 = Rounded<T>(RandomVector(n, seed + 2));
  const float scale = 0.3f;
  const double sum_ref = ops::squared_error_host(p.data(), q.data(), n);
  std::vector<float> d_ref = d0;
  ops::mse_backward(d_ref.data(), p.data(), q.data(), n, scale);

  auto d_p = t->Up(AsT<T>(p));
  auto d_q = t->Up(AsT<T>(q));
  auto d_d = t->Up(AsT<T>(d0));
  auto d_sum = t->Zeros<double>(1);
  auto scratch = t->Zeros<double>(cuda::kSumPartials);
  ops::cuda::mse_forward(d_sum.data(), d_p.data(), d_q.data(), n, scratch.data());
  ops::cuda::mse_backward(d_d.data(), d_p.data(), d_q.data(), n, scale);
  const double sum = t->Down(d_sum).at(0);
  // Each term is exact in double on both sides; only the summation order differs.
  EXPECT_NEAR(sum, sum_ref, 1e-12 * std::max(1.0, sum_ref));
  EXPECT_LE(NormalisedError(t->DownF(d_d), d_ref), grad_bound);
  ops::cuda::mse_forward(d_sum.data(), d_p.data(), d_q.data(), n, scratch.data());
  EXPECT_EQ(t->Down(d_sum).at(0), sum);
}

TEST_F(LossGpuTest, MseMatchesCpu) {
  for (int64_t n : {1, 255, 1000, (1 << 20) + 3}) {
    CheckMse<float>(this, n, kFp32Bound);
    CheckMse<bf16>(this, n, kBf16Bound);
  }
}

// The DiT's per-row form: adds (sum_r sse_r / cols) / divisor to the sum
// that is there, as the CPU op does (rows summed in the same order).
TEST_F(LossGpuTest, MseRowsAddsToTheSumAsTheCpuDoes) {
  for (int64_t rows : {1, 3, 17})
    for (int64_t cols : {1, 784, 5000}) {
      SCOPED_TRACE("rows=" + std::to_string(rows) + " cols=" + std::to_string(cols));
      const uint64_t seed = TestSeed("mserows" + std::to_string(rows) + "x" + std::to_string(cols));
      const auto p = RandomVector(rows * cols, seed, -3.f, 3.f);
      const auto q = RandomVector(rows * cols, seed + 1);
      double want = 1.5;
      {
        ops::ScopedBackend host({});
        ops::mse_rows_forward(&want, p.data(), q.data(), rows, cols, 3.0);
      }
      auto d_p = Up(p);
      auto d_q = Up(q);
      auto d_sum = Up(std::vector<double>{1.5});
      auto scratch = Zeros<double>(rows);
      ops::cuda::mse_rows_forward(d_sum.data(), d_p.data(), d_q.data(), rows, cols, 3.0, scratch.data());
      const double got = Down(d_sum).at(0);
      EXPECT_NEAR(got, want, 1e-12 * std::max(1.0, want));
      ops::cuda::mse_rows_forward(d_sum.data(), d_p.data(), d_q.data(), rows, cols, 3.0, scratch.data());
      EXPECT_NEAR(Down(d_sum).at(0), 2 * want - 1.5, 1e-12 * std::max(1.0, want));
    }
}

// The backend table's forwards (what the model calls) add into a device
// double and return nothing to the host.
TEST_F(LossGpuTest, BackendLossForwardsAccumulateOnTheDevice) {
  const int64_t N = 29, V = 301;
  const auto x = RandomVector(N * V, TestSeed("ce-acc"), -4.f, 4.f);
  const auto targets = RandomTargets(N, V, TestSeed("ce-acc") + 1);
  int64_t count = 0;
  const double ref = ops::cross_entropy_host<float>(nullptr, x.data(), targets.data(), N, V, &count);
  auto d_x = Up(x);
  auto d_t = Up(targets);
  auto d_sum = Up(std::vector<double>{2.0});
  const ops::DeviceOps& t = cuda::CudaOps();
  t.cross_entropy_forward(nullptr, d_sum.data(), d_x.data(), d_t.data(), N, V);
  t.cross_entropy_forward(nullptr, d_sum.data(), d_x.data(), d_t.data(), N, V);
  EXPECT_NEAR(Down(d_sum).at(0), 2.0 + 2 * ref, kFp32Bound * (2.0 + 2 * std::fabs(ref)));
}

// A vocabulary-parallel group of `ranks` simulated on one device: each rank
// runs its kernels on its columns, the host sums the tables (the group's
// all-reduce), and the result must be the cross-entropy of the full logits.
template <typename T>
void CheckVocabParallel(GpuTest* t, int64_t N, int64_t V, int ranks, double grad_bound) {
  SCOPED_TRACE("V=" + std::to_string(V) + " ranks=" + std::to_string(ranks) +
               (std::is_same_v<T, bf16> ? " bf16" : " fp32"));
  const uint64_t seed = TestSeed("vp" + std::to_string(V) + "x" + std::to_string(ranks));
  const auto x = Rounded<T>(RandomVector(N * V, seed, -6.f, 6.f));
  const auto dx0 = Rounded<T>(RandomVector(N * V, seed + 1));
  const auto targets = RandomTargets(N, V, seed + 2);
  const float scale = 0.25f;
  std::vector<float> losses_ref(static_cast<size_t>(N)), dx_ref = dx0;
  int64_t count_ref = 0;
  const double sum_ref = ops::cross_entropy_host(losses_ref.data(), x.data(), targets.data(), N, V, &count_ref);
  ops::cross_entropy_backward(dx_ref.data(), x.data(), targets.data(), N, V, scale);

  // Uneven ranges, as parallel::Range splits a vocabulary that does not divide.
  std::vector<int64_t> begin(size_t(ranks) + 1);
  for (int r = 0; r <= ranks; ++r) begin[size_t(r)] = V * r / ranks;
  auto columns = [&](const std::vector<float>& full, int r) {
    const int64_t b = begin[size_t(r)], e = begin[size_t(r) + 1];
    std::vector<float> local(static_cast<size_t>(N * (e - b)));
    for (int64_t n = 0; n < N; ++n)
      std::copy(full.begin() + n * V + b, full.begin() + n * V + e, local.begin() + n * (e - b));
    return local;
  };
  auto d_targets = t->Up(targets);
  std::vector<cuda::DeviceArray<T>> d_x, d_dx;
  std::vector<float> maxima(size_t(N * ranks), 0.f), sums(size_t(N * 2), 0.f);
  for (int r = 0; r < ranks; ++r) {
    const int64_t Vl = begin[size_t(r) + 1] - begin[size_t(r)];
    d_x.push_back(t->Up(AsT<T>(columns(x, r))));
    d_dx.push_back(t->Up(AsT<T>(columns(dx0, r))));
    auto d_maxima = t->Zeros<float>(N * ranks);
    ops::cuda::vocab_parallel_row_max(d_maxima.data(), d_x.back().data(), N, Vl, ranks, r);
    const auto mine = t->Down(d_maxima);
    for (size_t i = 0; i < mine.size(); ++i) maxima[i] += mine[i];
  }
  for (int64_t n = 0; n < N; ++n) {
    const float* row = x.data() + n * V;
    for (int r = 0; r < ranks; ++r)
      EXPECT_EQ(maxima[size_t(n * ranks + r)], *std::max_element(row + begin[size_t(r)], row + begin[size_t(r) + 1]));
  }
  auto d_maxima = t->Up(maxima);
  auto d_row_max = t->Zeros<float>(N);
  for (int r = 0; r < ranks; ++r) {
    auto d_sums = t->Zeros<float>(N * 2);
    ops::cuda::vocab_parallel_exp_sums(d_row_max.data(), d_sums.data(), d_maxima.data(), d_x[size_t(r)].data(),
                                       d_targets.data(), begin[size_t(r)], begin[size_t(r) + 1], N, ranks);
    const auto mine = t->Down(d_sums);
    for (size_t i = 0; i < mine.size(); ++i) sums[i] += mine[i];
  }
  auto d_sums = t->Up(sums);
  auto d_losses = t->Zeros<float>(N);
  auto d_row_sum = t->Zeros<float>(N);
  auto d_sum = t->Zeros<double>(1);
  auto d_count = t->Zeros<int64_t>(1);
  ops::cuda::vocab_parallel_loss(d_losses.data(), d_row_sum.data(), d_sum.data(), d_count.data(), d_row_max.data(),
                                 d_sums.data(), d_targets.data(), N);
  EXPECT_LE(NormalisedError(t->Down(d_losses), losses_ref), kFp32Bound);
  const double sum = t->Down(d_sum).at(0);
  EXPECT_NEAR(sum, sum_ref, kFp32Bound * std::max(1.0, std::fabs(sum_ref)));
  EXPECT_EQ(t->Down(d_count).at(0), count_ref);

  std::vector<float> dx(static_cast<size_t>(N * V));
  for (int r = 0; r < ranks; ++r) {
    const int64_t b = begin[size_t(r)], e = begin[size_t(r) + 1];
    ops::cuda::vocab_parallel_cross_entropy_backward(d_dx[size_t(r)].data(), d_x[size_t(r)].data(), d_targets.data(),
                                                     b, e, N, d_row_max.data(), d_row_sum.data(), scale);
    const auto local = t->DownF(d_dx[size_t(r)]);
    for (int64_t n = 0; n < N; ++n)
      std::copy(local.begin() + n * (e - b), local.begin() + (n + 1) * (e - b), dx.begin() + n * V + b);
  }
  EXPECT_LE(NormalisedError(dx, dx_ref), grad_bound);
}

TEST_F(LossGpuTest, VocabParallelCrossEntropyMatchesTheFullOne) {
  for (int ranks : {1, 2, 3}) {
    CheckVocabParallel<float>(this, 29, 1001, ranks, kFp32Bound);
    CheckVocabParallel<bf16>(this, 29, 1001, ranks, kBf16Bound);
  }
  CheckVocabParallel<float>(this, 5, 50257, 4, kFp32Bound);
}

}  // namespace
}  // namespace braid::gputest
