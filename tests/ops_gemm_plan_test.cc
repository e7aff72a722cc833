// The host logic of the cuBLASLt GEMMs (common/ops/cuda/gemm_plan.h), here on
// the CPU: the row-major -> column-major mapping, run through a plain
// column-major GEMM with BLAS semantics (cuBLASLt's), must equal the CPU's
// row-major ops::gemm on strided sub-matrices for every transpose; argument
// validation; pointer alignment.
#include "common/ops/cuda/gemm_plan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "common/ops/cpu/matmul.h"

namespace braid::ops::cuda {
namespace {

// Column-major D (m,n) = alpha op(A) op(B) + beta C (C == D), as cuBLASLt
// computes it; C is not read when beta is 0.
void ColMajorReference(const ColMajorGemm& g, double alpha, const double* A, const double* B, double beta, double* Cm) {
  for (int64_t j = 0; j < g.n; ++j)
    for (int64_t i = 0; i < g.m; ++i) {
      double acc = 0;
      for (int64_t p = 0; p < g.k; ++p) {
        const double a = g.trans_a ? A[p + i * g.lda] : A[i + p * g.lda];
        const double b = g.trans_b ? B[j + p * g.ldb] : B[p + j * g.ldb];
        acc += a * b;
      }
      double& c = Cm[i + j * g.ldc];
      c = alpha * acc + (beta == 0 ? 0.0 : beta * c);
    }
}

std::vector<double> Random(size_t n, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> d(-1, 1);
  std::vector<double> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

TEST(GemmPlanTest, ColumnMajorMappingEqualsRowMajorGemm) {
  const int64_t M = 7, N = 5, K = 3, off = 2;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (double beta : {0.0, 1.0}) {
        SCOPED_TRACE(::testing::Message() << "ta=" << ta << " tb=" << tb << " beta=" << beta);
        const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
        const auto A = Random(off + (ta ? K : M) * lda, 1), B = Random(off + (tb ? N : K) * ldb, 2),
                   C0 = Random(off + M * ldc, 3);
        auto want = C0, got = C0;
        ops::gemm<double>(ta, tb, M, N, K, 0.5, A.data() + off, lda, B.data() + off, ldb, beta, want.data() + off, ldc);
        const ColMajorGemm g = FromRowMajor(ta, tb, M, N, K, lda, ldb, ldc);
        ASSERT_TRUE(g.operands_swapped);
        // Operands swapped: the column-major A is the row-major B.
        ColMajorReference(g, 0.5, B.data() + off, A.data() + off, beta, got.data() + off);
        for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << i;
      }
}

TEST(GemmPlanTest, MappingOfTheLinearLayer) {
  // out (N,OC) = inp (N,C) @ W^T: column-major m=OC, n=N, k=C, A = W transposed.
  const ColMajorGemm g = FromRowMajor(false, true, /*M=*/10, /*N=*/30, /*K=*/20, 20, 20, 30);
  EXPECT_TRUE(g.trans_a);
  EXPECT_FALSE(g.trans_b);
  EXPECT_EQ(g.m, 30);
  EXPECT_EQ(g.n, 10);
  EXPECT_EQ(g.k, 20);
  EXPECT_EQ(g.a_rows(), 20);  // W read column-major: (C, OC), ld = C
  EXPECT_EQ(g.a_cols(), 30);
  EXPECT_EQ(g.b_rows(), 20);  // inp read column-major: (C, N), ld = C
  EXPECT_EQ(g.b_cols(), 10);
}

TEST(GemmPlanTest, ValidationNamesTheShape) {
  EXPECT_EQ(ValidateRowMajor(false, false, 4, 5, 6, 6, 5, 5), "");
  EXPECT_EQ(ValidateRowMajor(true, true, 4, 5, 6, 4, 6, 5), "");
  EXPECT_EQ(ValidateRowMajor(false, false, 0, 0, 0, 0, 0, 0), "");  // empty: nothing is read
  EXPECT_EQ(ValidateRowMajor(false, false, 3, 2, 0, 0, 0, 2), "");  // K = 0: A and B unread
  const std::string lda = ValidateRowMajor(false, false, 4, 5, 6, 5, 5, 5);
  EXPECT_EQ(lda.rfind("lda < 6 in row-major gemm M=4 N=5 K=6 trans_a=0 trans_b=0 lda=5 ldb=5 ldc=5", 0), 0u) << lda;
  EXPECT_EQ(ValidateRowMajor(true, false, 4, 5, 6, 3, 5, 5).rfind("lda < 4", 0), 0u);
  EXPECT_EQ(ValidateRowMajor(false, true, 4, 5, 6, 6, 5, 5).rfind("ldb < 6", 0), 0u);
  EXPECT_EQ(ValidateRowMajor(false, false, 4, 5, 6, 6, 4, 5).rfind("ldb < 5", 0), 0u);
  EXPECT_EQ(ValidateRowMajor(false, false, 4, 5, 6, 6, 5, 4).rfind("ldc < 5", 0), 0u);
  EXPECT_EQ(ValidateRowMajor(false, false, -1, 5, 6, 6, 5, 5).rfind("negative size", 0), 0u);
}

TEST(GemmPlanTest, PointerAlignment) {
  EXPECT_EQ(PointerAlignment(0), 256u);
  EXPECT_EQ(PointerAlignment(1), 1u);
  EXPECT_EQ(PointerAlignment(6), 2u);
  EXPECT_EQ(PointerAlignment(0x1004), 4u);
  EXPECT_EQ(PointerAlignment(0x1010), 16u);
  EXPECT_EQ(PointerAlignment(0x100), 256u);
  EXPECT_EQ(PointerAlignment(0x10000), 256u);  // capped at cuBLASLt's default
}

}  // namespace
}  // namespace braid::ops::cuda
