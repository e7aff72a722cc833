// Storage types of the CUDA kernels: float and __nv_bfloat16 (mixed
// precision, docs/GPU.md step 5). Kernels load a T, compute in float with
// the single-source math (common/ops/math/), and store a T. Statistics
// (norm mean/rstd, attention log-sum-exp, losses) are always float.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace braid::cuda {

using bf16 = __nv_bfloat16;

template <typename T>
__device__ __forceinline__ float ToFloat(T x);
template <>
__device__ __forceinline__ float ToFloat<float>(float x) { return x; }
template <>
__device__ __forceinline__ float ToFloat<bf16>(bf16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T FromFloat(float x);
template <>
__device__ __forceinline__ float FromFloat<float>(float x) { return x; }
template <>
__device__ __forceinline__ bf16 FromFloat<bf16>(float x) { return __float2bfloat16_rn(x); }

// Blocks of `threads` covering `n` items, capped so that a grid-stride loop
// does the rest (gridDim.x stays within the hardware limit).
inline unsigned GridFor(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  const int64_t cap = int64_t{1} << 20;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

}  // namespace braid::cuda
