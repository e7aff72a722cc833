// cuBLASLt linear layer and GEMM (ops/cuda/matmul.h) against the CPU's
// (ops/cpu/matmul.h), fp32 (bound kFp32GemmBound) and bf16 (kBf16Bound, the
// CPU run on bf16-rounded inputs), on fresh random inputs (gpu_compare.h):
// odd shapes, with and without bias, accumulation into pre-filled gradients,
// the bf16-in / fp32-gradient variant, strided sub-matrix GEMMs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "common/ops/cpu/matmul.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/cuda/lt_matmul.h"
#include "common/ops/cuda/matmul.h"
#include "tests/gpu/gpu_fixture.h"

namespace braid::gputest {
namespace {

using cuda::bf16;

struct Shape {
  int64_t N, C, OC;
};
// Odd sizes (not multiples of any tile), N = 1, and a transformer-sized one.
const Shape kShapes[] = {{1, 7, 769}, {5, 7, 3}, {64, 33, 769}, {333, 1024, 3072}};

std::string Name(const Shape& s) {
  return std::to_string(s.N) + "x" + std::to_string(s.C) + "x" + std::to_string(s.OC);
}

template <typename T>
std::vector<T> As(const std::vector<float>& v) {
  if constexpr (std::is_same_v<T, bf16>)
    return ToBf16(v);
  else
    return v;
}
// The values a T array holds: the CPU reference runs on these.
template <typename T>
std::vector<float> Held(const std::vector<float>& v) {
  if constexpr (std::is_same_v<T, bf16>)
    return RoundBf16(v);
  else
    return v;
}
template <typename T>
double BoundFor() {
  return std::is_same_v<T, bf16> ? kBf16Bound : kFp32GemmBound;
}

class MatmulGpuTest : public GpuTest {
 protected:
  template <typename T>
  void CheckForward(const Shape& s, bool with_bias) {
    SCOPED_TRACE(Name(s) + (with_bias ? " bias" : " no bias") + (std::is_same_v<T, bf16> ? " bf16" : " fp32"));
    const uint64_t seed = TestSeed("matmul_fwd" + Name(s));
    const auto inp = Held<T>(RandomVector(s.N * s.C, seed));
    const auto w = Held<T>(RandomVector(s.OC * s.C, seed + 1));
    const auto b = Held<T>(RandomVector(s.OC, seed + 2));
    std::vector<float> want(static_cast<size_t>(s.N * s.OC));
    ops::matmul_forward<float>(want.data(), inp.data(), w.data(), with_bias ? b.data() : nullptr, s.N, s.C, s.OC);
    auto d_inp = Up(As<T>(inp));
    auto d_w = Up(As<T>(w));
    auto d_b = Up(As<T>(b));
    // The output starts as NaN: the forward overwrites it, never reads it.
    auto d_out = Up(As<T>(std::vector<float>(want.size(), std::numeric_limits<float>::quiet_NaN())));
    ops::cuda::matmul_forward<T>(d_out.data(), d_inp.data(), d_w.data(), with_bias ? d_b.data() : nullptr, s.N, s.C,
                                 s.OC);
    EXPECT_LE(NormalisedError(DownF(d_out), want), BoundFor<T>());
  }

  // T: activations and weights; G: dweight and dbias.
  template <typename T, typename G>
  void CheckBackward(const Shape& s) {
    SCOPED_TRACE(Name(s) + (std::is_same_v<T, bf16> ? " T=bf16" : " T=fp32") +
                 (std::is_same_v<G, bf16> ? " G=bf16" : " G=fp32"));
    const uint64_t seed = TestSeed("matmul_bwd" + Name(s));
    const auto inp = Held<T>(RandomVector(s.N * s.C, seed));
    const auto w = Held<T>(RandomVector(s.OC * s.C, seed + 1));
    const auto dout = Held<T>(RandomVector(s.N * s.OC, seed + 2));
    // Pre-filled gradients: the backward accumulates into them.
    const auto dinp0 = Held<T>(RandomVector(s.N * s.C, seed + 3));
    const auto dw0 = Held<G>(RandomVector(s.OC * s.C, seed + 4));
    const auto db0 = Held<G>(RandomVector(s.OC, seed + 5));
    auto dinp_ref = dinp0, dw_ref = dw0, db_ref = db0;
    ops::matmul_backward<float>(dinp_ref.data(), dw_ref.data(), db_ref.data(), dout.data(), inp.data(), w.data(), s.N,
                                s.C, s.OC);
    auto d_inp = Up(As<T>(inp));
    auto d_w = Up(As<T>(w));
    auto d_dout = Up(As<T>(dout));
    auto d_dinp = Up(As<T>(dinp0));
    auto d_dw = Up(As<G>(dw0));
    auto d_db = Up(As<G>(db0));
    ops::cuda::matmul_backward<T, G>(d_dinp.data(), d_dw.data(), d_db.data(), d_dout.data(), d_inp.data(), d_w.data(),
                                     s.N, s.C, s.OC);
    EXPECT_LE(NormalisedError(DownF(d_dinp), dinp_ref), BoundFor<T>()) << "dinp";
    // fp32 gradients of bf16 inputs: the products of bf16 values are exact in
    // fp32 and accumulate in fp32, so they meet the fp32 GEMM bound (a bf16
    // output would not).
    EXPECT_LE(NormalisedError(DownF(d_dw), dw_ref), BoundFor<G>()) << "dweight";
    EXPECT_LE(NormalisedError(DownF(d_db), db_ref), BoundFor<G>()) << "dbias";
  }
};

TEST_F(MatmulGpuTest, ForwardMatchesCpu) {
  for (const Shape& s : kShapes)
    for (bool with_bias : {false, true}) {
      CheckForward<float>(s, with_bias);
      CheckForward<bf16>(s, with_bias);
    }
}

TEST_F(MatmulGpuTest, BackwardAccumulatesLikeCpu) {
  for (const Shape& s : kShapes) {
    CheckBackward<float, float>(s);
    CheckBackward<bf16, bf16>(s);
    CheckBackward<bf16, float>(s);  // mixed precision: fp32 master gradients
  }
}

// Null gradients are skipped; the others are still accumulated.
TEST_F(MatmulGpuTest, BackwardSkipsNullGradients) {
  const Shape s{17, 9, 13};
  const uint64_t seed = TestSeed("matmul_null");
  const auto inp = RandomVector(s.N * s.C, seed), w = RandomVector(s.OC * s.C, seed + 1),
             dout = RandomVector(s.N * s.OC, seed + 2), db0 = RandomVector(s.OC, seed + 3);
  auto db_ref = db0;
  ops::matmul_backward<float>(nullptr, nullptr, db_ref.data(), dout.data(), inp.data(), w.data(), s.N, s.C, s.OC);
  auto d_inp = Up(inp);
  auto d_w = Up(w);
  auto d_dout = Up(dout);
  auto d_db = Up(db0);
  ops::cuda::matmul_backward<float>(nullptr, nullptr, d_db.data(), d_dout.data(), d_inp.data(), d_w.data(), s.N, s.C,
                                    s.OC);
  EXPECT_LE(NormalisedError(DownF(d_db), db_ref), kFp32Bound);
}

// The bias gradient has a fixed summation order: two runs agree bit for bit.
TEST_F(MatmulGpuTest, BiasGradientIsDeterministic) {
  const Shape s{4099, 8, 1000};
  const auto dout = RandomVector(s.N * s.OC, TestSeed("matmul_dbias_det"));
  auto d_dout = Up(dout);
  auto d_db1 = Zeros<float>(s.OC);
  auto d_db2 = Zeros<float>(s.OC);
  ops::cuda::matmul_backward<float>(nullptr, nullptr, d_db1.data(), d_dout.data(), nullptr, nullptr, s.N, s.C, s.OC);
  ops::cuda::matmul_backward<float>(nullptr, nullptr, d_db2.data(), d_dout.data(), nullptr, nullptr, s.N, s.C, s.OC);
  const auto a = Down(d_db1), b = Down(d_db2);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(std::memcmp(&a[i], &b[i], sizeof(float)), 0) << i;
}

// Parameters live in one flat buffer at float offsets: weights, inputs and
// biases that are only element-aligned (the bias then is not fused into the
// GEMM but added by a second kernel) give the same result.
template <typename T>
void CheckMisalignedForward(GpuTest* t, int64_t off) {
  SCOPED_TRACE("offset " + std::to_string(off) + (std::is_same_v<T, bf16> ? " bf16" : " fp32"));
  const Shape s{37, 13, 29};
  const uint64_t seed = TestSeed("matmul_misaligned");
  const auto inp = Held<T>(RandomVector(off + s.N * s.C, seed));
  const auto w = Held<T>(RandomVector(off + s.OC * s.C, seed + 1));
  const auto b = Held<T>(RandomVector(off + s.OC, seed + 2));
  std::vector<float> want(static_cast<size_t>(s.N * s.OC));
  ops::matmul_forward<float>(want.data(), inp.data() + off, w.data() + off, b.data() + off, s.N, s.C, s.OC);
  auto d_inp = t->Up(As<T>(inp));
  auto d_w = t->Up(As<T>(w));
  auto d_b = t->Up(As<T>(b));
  auto d_out = t->Up(As<T>(std::vector<float>(want.size(), std::numeric_limits<float>::quiet_NaN())));
  ops::cuda::matmul_forward<T>(d_out.data(), d_inp.data() + off, d_w.data() + off, d_b.data() + off, s.N, s.C, s.OC);
  EXPECT_LE(NormalisedError(t->DownF(d_out), want), BoundFor<T>());
}

TEST_F(MatmulGpuTest, MisalignedWeightsAndBiasMatchCpu) {
  for (int64_t off : {1, 2, 3, 4}) {
    CheckMisalignedForward<float>(this, off);
    CheckMisalignedForward<bf16>(this, off);
  }
}

// C = 0 input features: the product is empty, so out = bias (or 0).
TEST_F(MatmulGpuTest, EmptyInnerDimensionGivesBias) {
  const int64_t N = 3, OC = 5;
  const auto b = RandomVector(OC, TestSeed("matmul_c0"));
  auto d_b = Up(b);
  auto d_out = Up(std::vector<float>(N * OC, 7.f));
  ops::cuda::matmul_forward<float>(d_out.data(), nullptr, nullptr, d_b.data(), N, 0, OC);
  const auto out = Down(d_out);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < OC; ++o) EXPECT_EQ(out[n * OC + o], b[o]);
}

// gemm on strided sub-matrices (offset pointers, as the attention's per-head
// slices), every transpose combination, alpha != 1, beta 0 and 1.
template <typename T>
void CheckStridedGemm(GpuTest* t, bool ta, bool tb, float beta) {
  SCOPED_TRACE(std::string("ta=") + (ta ? "1" : "0") + " tb=" + (tb ? "1" : "0") + " beta=" + std::to_string(beta) +
               (std::is_same_v<T, bf16> ? " bf16" : " fp32"));
  const int64_t M = 37, N = 53, K = 29, off = 3;
  const int64_t lda = (ta ? M : K) + 11, ldb = (tb ? K : N) + 5, ldc = N + 7;
  const int64_t a_rows = ta ? K : M, b_rows = tb ? N : K;
  const uint64_t seed = TestSeed("gemm_strided");
  const auto A = Held<T>(RandomVector(off + a_rows * lda, seed));
  const auto B = Held<T>(RandomVector(off + b_rows * ldb, seed + 1));
  const auto C0 = Held<T>(RandomVector(off + M * ldc, seed + 2));
  auto want = C0;
  ops::gemm<float>(ta, tb, M, N, K, 0.5f, A.data() + off, lda, B.data() + off, ldb, beta, want.data() + off, ldc);
  auto d_a = t->Up(As<T>(A));
  auto d_b = t->Up(As<T>(B));
  auto d_c = t->Up(As<T>(C0));
  ops::cuda::gemm<T>(ta, tb, M, N, K, 0.5f, d_a.data() + off, lda, d_b.data() + off, ldb, beta, d_c.data() + off, ldc);
  // Compared whole: the padding between rows must be untouched too.
  EXPECT_LE(NormalisedError(t->DownF(d_c), want), BoundFor<T>());
}

TEST_F(MatmulGpuTest, StridedGemmMatchesCpu) {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (float beta : {0.f, 1.f}) {
        CheckStridedGemm<float>(this, ta, tb, beta);
        CheckStridedGemm<bf16>(this, ta, tb, beta);
      }
}

// A shape is planned once per thread; repeating it reuses the cache entry.
TEST_F(MatmulGpuTest, DescriptorsAreCachedPerShape) {
  const Shape s{65, 31, 47};
  auto d_inp = Zeros<float>((s.N + 1) * s.C);  // room for the second shape
  auto d_w = Zeros<float>(s.OC * s.C);
  auto d_out = Zeros<float>((s.N + 1) * s.OC);
  ops::cuda::matmul_forward<float>(d_out.data(), d_inp.data(), d_w.data(), nullptr, s.N, s.C, s.OC);
  const size_t after_first = ops::cuda::LtCacheSize();
  for (int i = 0; i < 3; ++i)
    ops::cuda::matmul_forward<float>(d_out.data(), d_inp.data(), d_w.data(), nullptr, s.N, s.C, s.OC);
  EXPECT_EQ(ops::cuda::LtCacheSize(), after_first);
  ops::cuda::matmul_forward<float>(d_out.data(), d_inp.data(), d_w.data(), nullptr, s.N + 1, s.C, s.OC - 1);
  EXPECT_EQ(ops::cuda::LtCacheSize(), after_first + 1);
  Status st = ctx_->Synchronize();
  EXPECT_TRUE(st.ok()) << st.ToString();
}

// TF32 is opt-in; with it the fp32 GEMM is still close (10-bit mantissas).
TEST_F(MatmulGpuTest, Tf32IsOptIn) {
  EXPECT_FALSE(ops::cuda::AllowTf32());
  const Shape s{128, 256, 192};
  const uint64_t seed = TestSeed("matmul_tf32");
  const auto inp = RandomVector(s.N * s.C, seed), w = RandomVector(s.OC * s.C, seed + 1);
  std::vector<float> want(static_cast<size_t>(s.N * s.OC));
  ops::matmul_forward<float>(want.data(), inp.data(), w.data(), nullptr, s.N, s.C, s.OC);
  auto d_inp = Up(inp);
  auto d_w = Up(w);
  auto d_out = Zeros<float>(s.N * s.OC);
  ops::cuda::SetAllowTf32(true);
  ops::cuda::matmul_forward<float>(d_out.data(), d_inp.data(), d_w.data(), nullptr, s.N, s.C, s.OC);
  ops::cuda::SetAllowTf32(false);
  EXPECT_LE(NormalisedError(DownF(d_out), want), kBf16Bound);
}

// Invalid leading dimensions are recorded as an error naming the shape, not
// passed on to cuBLASLt.
TEST_F(MatmulGpuTest, InvalidLeadingDimensionIsRecorded) {
  auto d = Zeros<float>(64);
  ops::cuda::gemm<float>(false, false, 4, 4, 4, 1.f, d.data(), 3, d.data(), 4, 0.f, d.data(), 4);
  Status s = ctx_->TakeError();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("lda < 4"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("M=4 N=4 K=4"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace braid::gputest
