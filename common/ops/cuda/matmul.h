// CUDA linear layer and GEMM: the contracts of ops/cpu/matmul.h (llm.c's
// row-major conventions) on cuBLASLt (lt_matmul.h), on the calling thread's
// cuda::Context stream, accumulating in fp32 with fp32 alpha/beta.
//
// T is float or bf16 (dtype.h). fp32 inputs compute in full fp32 unless
// SetAllowTf32(true) (lt_matmul.h). Mixed precision: matmul_backward takes
// bf16 activations/weights with fp32 dweight/dbias (G = float), the fp32
// master gradients accumulated across micro-batches.
#pragma once

#include <cstdint>

#include "common/ops/cuda/dtype.h"
#include "common/ops/cuda/lt_matmul.h"  // SetAllowTf32

namespace braid::ops::cuda {

namespace detail {
template <typename X>
struct NonDeduced {
  using type = X;
};
}  // namespace detail

// out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC); bias may be null.
// Overwrites out. One cuBLASLt matmul, the bias fused (CUBLASLT_EPILOGUE_BIAS)
// when it is 16-byte aligned, else added by a second kernel.
template <typename T>
void matmul_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t C, int64_t OC);

// Accumulates (+=) into dinp (N,C) (type T), dweight (OC,C) and dbias (OC)
// (type G: T, or float for bf16 T); any of the three may be null to skip it.
// dinp and dweight: one cuBLASLt matmul each with beta = 1. dbias: a
// column-sum kernel with a fixed summation order (no atomics), so the result
// is bitwise reproducible (CUBLASLT_EPILOGUE_BGRADB would overwrite rather
// than accumulate, and its reduction order is not documented).
// Instantiated for (T, G) = (float, float), (bf16, bf16), (bf16, float); G
// is never deduced (so a null dweight or dbias needs no cast): name it for
// the mixed variant, matmul_backward<bf16, float>(...).
template <typename T, typename G = T>
void matmul_backward(T* dinp, typename detail::NonDeduced<G>::type* dweight,
                     typename detail::NonDeduced<G>::type* dbias, const T* dout, const T* inp, const T* weight,
                     int64_t N, int64_t C, int64_t OC);

// Autocast forms (cuda_backend.h, Precision::kBf16Autocast): bf16 operands
// on the tensor cores, fp32 accumulation and fp32 results (cuBLASLt with
// A/B CUDA_R_16BF, C/D CUDA_R_32F, CUBLAS_COMPUTE_32F).
// out (N,OC) fp32 = inp (N,C) bf16 @ weight (OC,C)^T bf16 + bias (OC) fp32;
// overwrites out; bias may be null (fused when 16-byte aligned, as above).
void matmul_forward_mixed(float* out, const braid::cuda::bf16* inp, const braid::cuda::bf16* weight,
                          const float* bias, int64_t N, int64_t C, int64_t OC);
// dinp (N,C) fp32 += dout (N,OC) bf16 @ weight (OC,C) bf16, and dweight
// (OC,C) fp32 += dout^T @ inp (N,C) bf16; either may be null to skip it
// (then its operands may be null too). The bias gradient is not here: the
// caller sums the fp32 dout (matmul_backward<float>).
void matmul_backward_mixed(float* dinp, float* dweight, const braid::cuda::bf16* dout, const braid::cuda::bf16* inp,
                           const braid::cuda::bf16* weight, int64_t N, int64_t C, int64_t OC);

// Row-major GEMM, as ops::gemm: C (M,N) = alpha * op(A) @ op(B) + beta * C,
// with leading dimensions (sub-matrix views allowed). alpha and beta are
// float for every T (for T = float this is the CPU signature). When beta is
// 0, C is not read. Invalid sizes or leading dimensions are recorded as an
// error naming the shape. T is float or bf16.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, float beta, T* Cm, int64_t ldc);

}  // namespace braid::ops::cuda
