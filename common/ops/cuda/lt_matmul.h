// One cuBLASLt matmul, column-major, on the calling thread's cuda::Context
// (its handle, workspace and compute stream), with fp32 accumulation and fp32
// alpha/beta. Used by the GEMM ops (matmul.h), which map their row-major
// problems onto it (gemm_plan.h).
//
// Descriptors, layouts and the heuristic's algorithm are cached per calling
// thread (each rank thread has its own, so a cached descriptor is never
// shared) and per (device, shape, leading dimensions, transposes, types,
// epilogue, compute type, pointer alignments, workspace size): the
// heuristic query is not free and the ops repeat the same shapes every step.
// Errors are recorded in the Context (check.h); a shape with no algorithm is
// recorded as an error naming the shape.
#pragma once

#include <library_types.h>

#include <cstddef>
#include <cstdint>

namespace braid::ops::cuda {

// D (m,n) = alpha · op(A) (m,k) · op(B) (k,n) + beta · C [+ bias (m)], where C
// and D are the same matrix `c` (type c_type, leading dimension ldc). A and B
// are of ab_type. The bias, when not null, has c_type and one value per row
// of D (CUBLASLT_EPILOGUE_BIAS). k must be positive (callers handle k = 0).
struct LtMatmulArgs {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;
  int64_t lda = 0;
  const void* b = nullptr;
  int64_t ldb = 0;
  void* c = nullptr;
  int64_t ldc = 0;
  cudaDataType_t ab_type = CUDA_R_32F;
  cudaDataType_t c_type = CUDA_R_32F;
  float alpha = 1.f, beta = 0.f;
  const void* bias = nullptr;
};

void LtMatmul(const LtMatmulArgs& args);

// fp32 inputs compute in full fp32 (CUBLAS_COMPUTE_32F) unless TF32 is
// allowed here (CUBLAS_COMPUTE_32F_FAST_TF32: faster, ~1e-3 relative error).
// Process-wide; off by default. bf16 inputs are unaffected.
void SetAllowTf32(bool allow);
bool AllowTf32();

// Entries in the calling thread's descriptor cache (tests).
size_t LtCacheSize();

}  // namespace braid::ops::cuda
