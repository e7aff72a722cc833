// Linear layer: out = inp @ weight^T + bias, via BLAS gemm (sgemm for float,
// dgemm for the float64 reference path).
#pragma once

#include <cstdint>

namespace braid::ops {

// out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC); bias may be null.
// Overwrites out.
template <typename T>
void matmul_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t C, int64_t OC);

// Accumulates (+=) into dinp (N,C), dweight (OC,C), dbias (OC); any of the
// three may be null to skip it.
template <typename T>
void matmul_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, int64_t N,
                     int64_t C, int64_t OC);

// Plain row-major GEMM wrapper: C (M,N) = alpha * op(A) @ op(B) + beta * C.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* Cm, int64_t ldc);

}  // namespace braid::ops
