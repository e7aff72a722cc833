// CUDA RMSNorm and LayerNorm against the CPU kernels (ops/cpu/norm.h), fp32
// and bf16, on fresh random inputs (gpu_compare.h), at sizes that are not
// multiples of a warp or a block (C = 1, 7, 769, 4097; N = 1, 333, and 1000
// rows, several of the weight gradient's row chunks), and the weight
// gradients' determinism (two runs, the same bits).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "common/ops/cpu/norm.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/cuda/norm.h"
#include "tests/gpu/gpu_fixture.h"

namespace braid::gputest {
namespace {

using cuda::bf16;

class NormGpuTest : public GpuTest {};

// The inputs a T kernel sees, widened back to float (the CPU reference runs
// on them).
template <typename T>
std::vector<float> Rounded(std::vector<float> v) {
  if constexpr (std::is_same_v<T, bf16>) return RoundBf16(v);
  return v;
}

template <typename T>
std::vector<T> AsT(const std::vector<float>& v) {
  if constexpr (std::is_same_v<T, bf16>) return ToBf16(v); else return v;
}

template <typename T>
constexpr double Bound() {
  return std::is_same_v<T, bf16> ? kBf16Bound : kFp32Bound;
}

struct Inputs {
  Inputs(int64_t N, int64_t C, uint64_t seed)
      : x(RandomVector(N * C, seed, -2.f, 2.f)),
        w(RandomVector(C, seed + 1, 0.5f, 1.5f)),
        b(RandomVector(C, seed + 2)),
        dy(RandomVector(N * C, seed + 3)),
        dx0(RandomVector(N * C, seed + 4)),
        dw0(RandomVector(C, seed + 5)),
        db0(RandomVector(C, seed + 6)) {}
  template <typename T>
  void Round() {
    for (auto* v : {&x, &w, &b, &dy, &dx0, &dw0, &db0}) *v = Rounded<T>(*v);
  }
  std::vector<float> x, w, b, dy, dx0, dw0, db0;
};

template <typename T>
void CheckRmsNorm(GpuTest* t, int64_t N, int64_t C) {
  SCOPED_TRACE("rmsnorm N=" + std::to_string(N) + " C=" + std::to_string(C) +
               (std::is_same_v<T, bf16> ? " bf16" : " fp32"));
  Inputs in(N, C, TestSeed("rmsnorm" + std::to_string(N) + "x" + std::to_string(C)));
  in.Round<T>();
  std::vector<float> y(N * C), rstd(N), dx = in.dx0, dw = in.dw0;
  ops::rmsnorm_forward(y.data(), rstd.data(), in.x.data(), in.w.data(), N, C);
  ops::rmsnorm_backward(dx.data(), dw.data(), in.dy.data(), in.x.data(), in.w.data(), rstd.data(), N, C);

  auto d_x = t->Up(AsT<T>(in.x));
  auto d_w = t->Up(AsT<T>(in.w));
  auto d_dy = t->Up(AsT<T>(in.dy));
  auto d_dx = t->Up(AsT<T>(in.dx0));
  auto d_dw = t->Up(AsT<T>(in.dw0));
  auto d_y = t->Zeros<T>(N * C);
  auto d_rstd = t->Zeros<float>(N);
  ops::cuda::rmsnorm_forward(d_y.data(), d_rstd.data(), d_x.data(), d_w.data(), N, C);
  ops::cuda::rmsnorm_backward(d_dx.data(), d_dw.data(), d_dy.data(), d_x.data(), d_w.data(), d_rstd.data(), N, C);
  EXPECT_LE(NormalisedError(t->DownF(d_y), y), Bound<T>());
  EXPECT_LE(NormalisedError(t->DownF(d_rstd), rstd), kFp32Bound);  // float statistics for every T
  EXPECT_LE(NormalisedError(t->DownF(d_dx), dx), Bound<T>());
  EXPECT_LE(NormalisedError(t->DownF(d_dw), dw), Bound<T>());
}

template <typename T>
void CheckLayerNorm(GpuTest* t, int64_t N, int64_t C) {
  SCOPED_TRACE("layernorm N=" + std::to_string(N) + " C=" + std::to_string(C) +
               (std::is_same_v<T, bf16> ? " bf16" : " fp32"));
  Inputs in(N, C, TestSeed("layernorm" + std::to_string(N) + "x" + std::to_string(C)));
  in.Round<T>();
  std::vector<float> y(N * C), mean(N), rstd(N), dx = in.dx0, dw = in.dw0, db = in.db0;
  ops::layernorm_forward(y.data(), mean.data(), rstd.data(), in.x.data(), in.w.data(), in.b.data(), N, C);
  ops::layernorm_backward(dx.data(), dw.data(), db.data(), in.dy.data(), in.x.data(), in.w.data(), mean.data(),
                          rstd.data(), N, C);

  auto d_x = t->Up(AsT<T>(in.x));
  auto d_w = t->Up(AsT<T>(in.w));
  auto d_b = t->Up(AsT<T>(in.b));
  auto d_dy = t->Up(AsT<T>(in.dy));
  auto d_dx = t->Up(AsT<T>(in.dx0));
  auto d_dw = t->Up(AsT<T>(in.dw0));
  auto d_db = t->Up(AsT<T>(in.db0));
  auto d_y = t->Zeros<T>(N * C);
  auto d_mean = t->Zeros<float>(N);
  auto d_rstd = t->Zeros<float>(N);
  ops::cuda::layernorm_forward(d_y.data(), d_mean.data(), d_rstd.data(), d_x.data(), d_w.data(), d_b.data(), N, C);
  ops::cuda::layernorm_backward(d_dx.data(), d_dw.data(), d_db.data(), d_dy.data(), d_x.data(), d_w.data(),
                                d_mean.data(), d_rstd.data(), N, C);
  EXPECT_LE(NormalisedError(t->DownF(d_y), y), Bound<T>());
  EXPECT_LE(NormalisedError(t->DownF(d_mean), mean), kFp32Bound);
  EXPECT_LE(NormalisedError(t->DownF(d_rstd), rstd), kFp32Bound);
  EXPECT_LE(NormalisedError(t->DownF(d_dx), dx), Bound<T>());
  EXPECT_LE(NormalisedError(t->DownF(d_dw), dw), Bound<T>());
  EXPECT_LE(NormalisedError(t->DownF(d_db), db), Bound<T>());
}

const int64_t kShapes[][2] = {{1, 1}, {1, 7}, {1, 769}, {333, 1}, {333, 7}, {333, 769}, {1000, 64}, {5, 4097}};

TEST_F(NormGpuTest, RmsNormMatchesCpu) {
  for (const auto& s : kShapes) {
    CheckRmsNorm<float>(this, s[0], s[1]);
    CheckRmsNorm<bf16>(this, s[0], s[1]);
  }
}

TEST_F(NormGpuTest, LayerNormMatchesCpu) {
  for (const auto& s : kShapes) {
    CheckLayerNorm<float>(this, s[0], s[1]);
    CheckLayerNorm<bf16>(this, s[0], s[1]);
  }
}

// Two backward runs from the same state give the same bits (no atomics; the
// weight gradients' row reduction has a fixed order).
template <typename T>
void CheckDeterministic(GpuTest* t, int64_t N, int64_t C) {
  Inputs in(N, C, TestSeed("normdet" + std::to_string(N)));
  auto d_x = t->Up(AsT<T>(in.x));
  auto d_w = t->Up(AsT<T>(in.w));
  auto d_b = t->Up(AsT<T>(in.b));
  auto d_dy = t->Up(AsT<T>(in.dy));
  auto d_y = t->Zeros<T>(N * C);
  auto d_mean = t->Zeros<float>(N);
  auto d_rstd = t->Zeros<float>(N);
  ops::cuda::layernorm_forward(d_y.data(), d_mean.data(), d_rstd.data(), d_x.data(), d_w.data(), d_b.data(), N, C);
  std::vector<std::vector<T>> runs;
  for (int run = 0; run < 2; ++run) {
    auto d_dx = t->Up(AsT<T>(in.dx0));
    auto d_dw = t->Up(AsT<T>(in.dw0));
    auto d_db = t->Up(AsT<T>(in.db0));
    auto d_rdw = t->Up(AsT<T>(in.dw0));
    ops::cuda::layernorm_backward(d_dx.data(), d_dw.data(), d_db.data(), d_dy.data(), d_x.data(), d_w.data(),
                                  d_mean.data(), d_rstd.data(), N, C);
    auto d_rdx = t->Up(AsT<T>(in.dx0));
    ops::cuda::rmsnorm_backward(d_rdx.data(), d_rdw.data(), d_dy.data(), d_x.data(), d_w.data(), d_rstd.data(), N, C);
    for (auto* a : {&d_dx, &d_dw, &d_db, &d_rdx, &d_rdw}) runs.push_back(t->Down(*a));
  }
  const size_t per_run = runs.size() / 2;
  for (size_t i = 0; i < per_run; ++i) {
    ASSERT_EQ(runs[i].size(), runs[per_run + i].size());
    EXPECT_EQ(std::memcmp(runs[i].data(), runs[per_run + i].data(), runs[i].size() * sizeof(T)), 0) << "array " << i;
  }
}

TEST_F(NormGpuTest, BackwardIsDeterministic) {
  CheckDeterministic<float>(this, 3000, 769);
  CheckDeterministic<bf16>(this, 3000, 769);
}

// No rows or no columns: nothing to do, and no error.
TEST_F(NormGpuTest, EmptyIsANoOp) {
  ops::cuda::rmsnorm_forward<float>(nullptr, nullptr, nullptr, nullptr, 0, 16);
  ops::cuda::rmsnorm_backward<float>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 16);
  ops::cuda::layernorm_forward<bf16>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 4, 0);
  ops::cuda::layernorm_backward<bf16>(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 4, 0);
  Status s = ctx_->Synchronize();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

}  // namespace
}  // namespace braid::gputest
