// Pure host logic of the cuBLASLt GEMMs (common/ops/cuda/matmul.h), kept free
// of CUDA so the CPU tests check it (tests/ops_gemm_plan_test.cc).
//
// The ops use llm.c's row-major conventions; cuBLASLt is column-major. A
// row-major C (M,N) = op(A) (M,K) · op(B) (K,N) is, read column-major, the
// matrix C^T (N,M) = op(B)^T · op(A)^T: the same memory, the operands swapped,
// the transposes kept. So the column-major problem is m=N, n=M, k=K with
// A' = B (trans_b, ldb) and B' = A (trans_a, lda), and ldc unchanged.
#pragma once

#include <cstdint>
#include <string>

namespace braid::ops::cuda {

// A column-major GEMM D (m,n) = alpha · op(A) (m,k) · op(B) (k,n) + beta · C,
// with C and D the same matrix (leading dimension ldc). `operands_swapped`:
// A is the row-major call's B (and B its A).
struct ColMajorGemm {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  bool operands_swapped = true;

  // Stored (column-major) shapes of A and B, as cuBLASLt layouts want them.
  int64_t a_rows() const { return trans_a ? k : m; }
  int64_t a_cols() const { return trans_a ? m : k; }
  int64_t b_rows() const { return trans_b ? n : k; }
  int64_t b_cols() const { return trans_b ? k : n; }
};

// The column-major problem of the row-major C (M,N) = op(A) · op(B).
inline ColMajorGemm FromRowMajor(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                                 int64_t ldc) {
  ColMajorGemm g;
  g.trans_a = trans_b;
  g.trans_b = trans_a;
  g.m = N;
  g.n = M;
  g.k = K;
  g.lda = ldb;
  g.ldb = lda;
  g.ldc = ldc;
  g.operands_swapped = true;
  return g;
}

inline std::string GemmShapeString(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda,
                                   int64_t ldb, int64_t ldc) {
  return std::string("row-major gemm M=") + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
         " trans_a=" + (trans_a ? "1" : "0") + " trans_b=" + (trans_b ? "1" : "0") + " lda=" + std::to_string(lda) +
         " ldb=" + std::to_string(ldb) + " ldc=" + std::to_string(ldc);
}

// Why the row-major GEMM's arguments are invalid ("" when they are valid):
// negative sizes, or a leading dimension shorter than a stored row (row-major
// A is (M,K), or (K,M) when transposed; B is (K,N), or (N,K); C is (M,N)).
inline std::string ValidateRowMajor(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda,
                                    int64_t ldb, int64_t ldc) {
  const auto at_least = [](int64_t row) { return row > 1 ? row : int64_t{1}; };
  const int64_t a_row = at_least(trans_a ? M : K), b_row = at_least(trans_b ? K : N), c_row = at_least(N);
  std::string why;
  if (M < 0 || N < 0 || K < 0)
    why = "negative size";
  else if (K > 0 && M > 0 && lda < a_row)
    why = "lda < " + std::to_string(a_row);
  else if (K > 0 && N > 0 && ldb < b_row)
    why = "ldb < " + std::to_string(b_row);
  else if (M > 0 && N > 0 && ldc < c_row)
    why = "ldc < " + std::to_string(c_row);
  if (why.empty()) return why;
  return why + " in " + GemmShapeString(trans_a, trans_b, M, N, K, lda, ldb, ldc);
}

// The alignment cuBLASLt may assume of a buffer at `address`: the largest
// power of two dividing it, capped at 256 (its default assumption). The
// heuristics pick only algorithms that work with it (sub-matrix views, like
// the attention's per-head slices, are often only 4-byte aligned).
inline uint32_t PointerAlignment(uintptr_t address) {
  if (address == 0) return 256;
  uint32_t a = 1;
  while (a < 256 && (address & a) == 0) a <<= 1;
  return a;
}

}  // namespace braid::ops::cuda
