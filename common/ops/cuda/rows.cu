#include "common/ops/cuda/rows.h"

#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/dtype.h"

namespace braid::ops::cuda {
namespace {

using braid::cuda::FromFloat;
using braid::cuda::GridFor;
using braid::cuda::ToFloat;

constexpr int kThreads = 256;

// Element i of the packed (n, C) matrix is column i % C of its row i / C,
// which is row rows[i / C] of the large one.
__device__ __forceinline__ int64_t LargeIndex(const int32_t* rows, int64_t i, int64_t C) {
  return int64_t{rows[i / C]} * C + i % C;
}

template <typename T>
__global__ void GatherRowsKernel(T* out, const T* src, const int32_t* rows, int64_t n, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n * C; i += int64_t{gridDim.x} * blockDim.x)
    out[i] = src[LargeIndex(rows, i, C)];
}

template <typename T>
__global__ void ScatterRowsKernel(T* dst, const T* src, const int32_t* rows, int64_t n, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n * C; i += int64_t{gridDim.x} * blockDim.x)
    dst[LargeIndex(rows, i, C)] = src[i];
}

template <typename T>
__global__ void ScatterAddRowsKernel(T* dst, const T* src, const int32_t* rows, int64_t n, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n * C; i += int64_t{gridDim.x} * blockDim.x) {
    T* d = dst + LargeIndex(rows, i, C);
    *d = FromFloat<T>(ToFloat(*d) + ToFloat(src[i]));
  }
}

template <typename T>
__global__ void ZeroRowsKernel(T* dst, const int32_t* rows, int64_t n, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n * C; i += int64_t{gridDim.x} * blockDim.x)
    dst[LargeIndex(rows, i, C)] = FromFloat<T>(0.f);
}

template <typename T>
__global__ void AddBiasKernel(T* out, const T* bias, int64_t N, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < N * C; i += int64_t{gridDim.x} * blockDim.x)
    out[i] = FromFloat<T>(ToFloat(out[i]) + ToFloat(bias[i % C]));
}

template <typename T>
__global__ void AccumulateKernel(T* dst, const T* src, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    dst[i] = FromFloat<T>(ToFloat(dst[i]) + ToFloat(src[i]));
}

}  // namespace

template <typename T>
void gather_rows(T* out, const T* src, const int32_t* rows, int64_t n, int64_t C) {
  if (n <= 0 || C <= 0) return;
  GatherRowsKernel<T><<<GridFor(n * C, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(out, src, rows, n, C);
  BRAID_CUDA_CHECK_LAUNCH("GatherRowsKernel");
}

template <typename T>
void scatter_rows(T* dst, const T* src, const int32_t* rows, int64_t n, int64_t C) {
  if (n <= 0 || C <= 0) return;
  ScatterRowsKernel<T><<<GridFor(n * C, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(dst, src, rows, n, C);
  BRAID_CUDA_CHECK_LAUNCH("ScatterRowsKernel");
}

template <typename T>
void scatter_add_rows(T* dst, const T* src, const int32_t* rows, int64_t n, int64_t C) {
  if (n <= 0 || C <= 0) return;
  ScatterAddRowsKernel<T>
      <<<GridFor(n * C, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(dst, src, rows, n, C);
  BRAID_CUDA_CHECK_LAUNCH("ScatterAddRowsKernel");
}

template <typename T>
void zero_rows(T* dst, const int32_t* rows, int64_t n, int64_t C) {
  if (n <= 0 || C <= 0) return;
  ZeroRowsKernel<T><<<GridFor(n * C, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(dst, rows, n, C);
  BRAID_CUDA_CHECK_LAUNCH("ZeroRowsKernel");
}

template <typename T>
void add_bias(T* out, const T* bias, int64_t N, int64_t C) {
  if (N <= 0 || C <= 0) return;
  AddBiasKernel<T><<<GridFor(N * C, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(out, bias, N, C);
  BRAID_CUDA_CHECK_LAUNCH("AddBiasKernel");
}

template <typename T>
void copy(T* dst, const T* src, int64_t n) {
  if (n <= 0) return;
  BRAID_CUDA_CHECK(cudaMemcpyAsync(dst, src, sizeof(T) * static_cast<size_t>(n), cudaMemcpyDeviceToDevice,
                                   braid::cuda::CurrentStream()));
}

template <typename T>
void accumulate(T* dst, const T* src, int64_t n) {
  if (n <= 0) return;
  AccumulateKernel<T><<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(dst, src, n);
  BRAID_CUDA_CHECK_LAUNCH("AccumulateKernel");
}

#define BRAID_INSTANTIATE(T)                                                          \
  template void gather_rows<T>(T*, const T*, const int32_t*, int64_t, int64_t);      \
  template void scatter_rows<T>(T*, const T*, const int32_t*, int64_t, int64_t);     \
  template void scatter_add_rows<T>(T*, const T*, const int32_t*, int64_t, int64_t); \
  template void zero_rows<T>(T*, const int32_t*, int64_t, int64_t);                  \
  template void add_bias<T>(T*, const T*, int64_t, int64_t);                         \
  template void copy<T>(T*, const T*, int64_t);                                      \
  template void accumulate<T>(T*, const T*, int64_t);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(braid::cuda::bf16)
#undef BRAID_INSTANTIATE

}  // namespace braid::ops::cuda
