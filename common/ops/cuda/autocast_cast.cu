#include "common/ops/cuda/autocast_cast.h"

#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"

namespace braid::ops::cuda {
namespace {

using braid::cuda::bf16;
using braid::cuda::GridFor;

constexpr int kThreads = 256;

__global__ void CastToBf16Kernel(bf16* dst, const float* src, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}

enum class RowsMode { kToBf16, kToFloat, kAccumulate };

// One thread per element of the row span; the span's ends are read from
// cu_seqlens by every thread (two cached loads).
template <RowsMode M, typename D, typename S>
__global__ void RowsKernel(D* dst, const S* src, int64_t width, const int32_t* cu_seqlens, int num_seqs,
                           int64_t max_rows) {
  int64_t first = cu_seqlens[0], last = cu_seqlens[num_seqs];
  first = first < 0 ? 0 : first;
  last = last > max_rows ? max_rows : last;
  if (last <= first) return;
  const int64_t begin = first * width, end = last * width;
  for (int64_t i = begin + blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < end;
       i += int64_t{gridDim.x} * blockDim.x) {
    if constexpr (M == RowsMode::kToBf16) {
      dst[i] = __float2bfloat16_rn(src[i]);
    } else if constexpr (M == RowsMode::kToFloat) {
      dst[i] = __bfloat162float(src[i]);
    } else {
      dst[i] += __bfloat162float(src[i]);
    }
  }
}

template <RowsMode M, typename D, typename S>
void LaunchRows(D* dst, const S* src, int64_t width, const int32_t* cu_seqlens, int num_seqs, int64_t max_rows,
                const char* name) {
  if (num_seqs <= 0 || width <= 0 || max_rows <= 0) return;
  RowsKernel<M, D, S><<<GridFor(max_rows * width, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(
      dst, src, width, cu_seqlens, num_seqs, max_rows);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) braid::cuda::RecordError(braid::cuda::CudaError(e, name, __FILE__, __LINE__));
}

}  // namespace

void cast_to_bf16(bf16* dst, const float* src, int64_t n) {
  if (n <= 0) return;
  CastToBf16Kernel<<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(dst, src, n);
  BRAID_CUDA_CHECK_LAUNCH("CastToBf16Kernel");
}

void cast_rows_to_bf16(bf16* dst, const float* src, int64_t width, const int32_t* cu_seqlens, int num_seqs,
                       int64_t max_rows) {
  LaunchRows<RowsMode::kToBf16>(dst, src, width, cu_seqlens, num_seqs, max_rows, "launch RowsKernel(to bf16)");
}

void copy_rows_to_float(float* dst, const bf16* src, int64_t width, const int32_t* cu_seqlens, int num_seqs,
                        int64_t max_rows) {
  LaunchRows<RowsMode::kToFloat>(dst, src, width, cu_seqlens, num_seqs, max_rows, "launch RowsKernel(to float)");
}

void accumulate_rows_to_float(float* dst, const bf16* src, int64_t width, const int32_t* cu_seqlens, int num_seqs,
                              int64_t max_rows) {
  LaunchRows<RowsMode::kAccumulate>(dst, src, width, cu_seqlens, num_seqs, max_rows,
                                    "launch RowsKernel(accumulate)");
}

}  // namespace braid::ops::cuda
