// CUDA activations and residual against the CPU kernels (ops/cpu), fp32 and
// bf16, on fresh random inputs (gpu_compare.h).
#include <gtest/gtest.h>

#include "common/ops/cpu/activation.h"
#include "common/ops/cuda/activation.h"
#include "common/ops/cuda/dtype.h"
#include "tests/gpu/gpu_fixture.h"

namespace braid::gputest {
namespace {

using cuda::bf16;

class ActivationGpuTest : public GpuTest {};

// Runs forward and backward of GELU on T and compares with the CPU on the
// same (T-rounded) inputs.
template <typename T>
void CheckGelu(GpuTest* t, std::vector<float> x, std::vector<float> dy, std::vector<float> dx0, double bound) {
  if constexpr (std::is_same_v<T, bf16>) {
    x = RoundBf16(x);
    dy = RoundBf16(dy);
    dx0 = RoundBf16(dx0);
  }
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y_ref(x.size()), dx_ref = dx0;
  ops::gelu_forward(y_ref.data(), x.data(), n);
  ops::gelu_backward(dx_ref.data(), dy.data(), x.data(), n);
  auto conv = [](const std::vector<float>& v) {
    if constexpr (std::is_same_v<T, bf16>) return ToBf16(v); else return v;
  };
  auto dx_in = t->Up(conv(x));
  auto d_dy = t->Up(conv(dy));
  auto d_dx = t->Up(conv(dx0));
  auto d_y = t->Zeros<T>(n);
  ops::cuda::gelu_forward(d_y.data(), dx_in.data(), n);
  ops::cuda::gelu_backward(d_dx.data(), d_dy.data(), dx_in.data(), n);
  EXPECT_LE(NormalisedError(t->DownF(d_y), y_ref), bound);
  EXPECT_LE(NormalisedError(t->DownF(d_dx), dx_ref), bound);
}

TEST_F(ActivationGpuTest, GeluMatchesCpu) {
  for (int64_t n : {1, 1000, 1 << 20}) {
    const uint64_t seed = TestSeed("gelu" + std::to_string(n));
    auto x = RandomVector(n, seed, -6.f, 6.f), dy = RandomVector(n, seed + 1), dx0 = RandomVector(n, seed + 2);
    CheckGelu<float>(this, x, dy, dx0, kFp32Bound);
    CheckGelu<bf16>(this, x, dy, dx0, kBf16Bound);
  }
}

TEST_F(ActivationGpuTest, SwigluMatchesCpu) {
  const int64_t N = 333, H = 257;
  const uint64_t seed = TestSeed("swiglu");
  auto in = RandomVector(N * 2 * H, seed, -4.f, 4.f), dy = RandomVector(N * H, seed + 1),
       din0 = RandomVector(N * 2 * H, seed + 2);
  std::vector<float> y_ref(static_cast<size_t>(N * H)), din_ref = din0;
  ops::swiglu_forward(y_ref.data(), in.data(), N, H);
  ops::swiglu_backward(din_ref.data(), dy.data(), in.data(), N, H);
  auto d_in = Up(in);
  auto d_dy = Up(dy);
  auto d_din = Up(din0);
  auto d_y = Zeros<float>(N * H);
  ops::cuda::swiglu_forward(d_y.data(), d_in.data(), N, H);
  ops::cuda::swiglu_backward(d_din.data(), d_dy.data(), d_in.data(), N, H);
  EXPECT_LE(NormalisedError(DownF(d_y), y_ref), kFp32Bound);
  EXPECT_LE(NormalisedError(DownF(d_din), din_ref), kFp32Bound);
}

TEST_F(ActivationGpuTest, ResidualMatchesCpu) {
  const int64_t n = 100003;
  const uint64_t seed = TestSeed("residual");
  auto a = RandomVector(n, seed), b = RandomVector(n, seed + 1), dy = RandomVector(n, seed + 2);
  std::vector<float> y_ref(static_cast<size_t>(n)), da_ref(static_cast<size_t>(n), 0.f), db_ref = a;
  ops::residual_forward(y_ref.data(), a.data(), b.data(), n);
  ops::residual_backward(da_ref.data(), db_ref.data(), dy.data(), n);
  auto d_a = Up(a);
  auto d_b = Up(b);
  auto d_dy = Up(dy);
  auto d_y = Zeros<float>(n);
  auto d_da = Zeros<float>(n);
  auto d_db = Up(a);
  ops::cuda::residual_forward(d_y.data(), d_a.data(), d_b.data(), n);
  ops::cuda::residual_backward(d_da.data(), d_db.data(), d_dy.data(), n);
  EXPECT_LE(NormalisedError(DownF(d_y), y_ref), kFp32Bound);
  EXPECT_LE(NormalisedError(DownF(d_da), da_ref), kFp32Bound);
  EXPECT_LE(NormalisedError(DownF(d_db), db_ref), kFp32Bound);
}

// A recorded launch error surfaces from Synchronize() (the op-boundary check).
TEST_F(ActivationGpuTest, BadPointerIsReportedNotIgnored) {
  ops::cuda::gelu_forward<float>(reinterpret_cast<float*>(0x10), reinterpret_cast<const float*>(0x10), 1 << 20);
  Status s = ctx_->Synchronize();
  EXPECT_FALSE(s.ok());
  ctx_.reset();  // the context is poisoned (sticky fault); do not reuse it
}

}  // namespace
}  // namespace braid::gputest
