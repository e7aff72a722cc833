#include "common/ops/cuda/patch.h"

#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/dtype.h"

namespace braid::ops::cuda {
namespace {

using braid::cuda::FromFloat;
using braid::cuda::GridFor;
using braid::cuda::ToFloat;

constexpr int kThreads = 256;

// The pixel of element o of the patch rows: row o / (p p) is patch (gy, gx)
// of image i, element o % (p p) is pixel (y, x) of the patch.
__device__ __forceinline__ int64_t PixelIndex(int64_t o, int64_t S, int64_t p, int64_t g) {
  const int64_t pd = p * p, row = o / pd, j = o % pd;
  const int64_t i = row / (g * g), cell = row % (g * g);
  const int64_t gy = cell / g, gx = cell % g, y = j / p, x = j % p;
  return i * S * S + (gy * p + y) * S + gx * p + x;
}

template <typename T>
__global__ void PatchifyKernel(T* out, const T* img, int64_t total, int64_t S, int64_t p, int64_t g, float shift,
                               float scale) {
  for (int64_t o = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; o < total; o += int64_t{gridDim.x} * blockDim.x)
    out[o] = FromFloat<T>((ToFloat(img[PixelIndex(o, S, p, g)]) - shift) / scale);
}

template <typename T>
__global__ void UnpatchifyKernel(T* img, const T* rows, int64_t total, int64_t S, int64_t p, int64_t g) {
  for (int64_t o = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; o < total; o += int64_t{gridDim.x} * blockDim.x)
    img[PixelIndex(o, S, p, g)] = rows[o];
}

}  // namespace

template <typename T>
void patchify(T* out, const T* img, int64_t n, int64_t S, int64_t p, float shift, float scale) {
  if (n <= 0 || p <= 0 || S < p) return;
  const int64_t g = S / p, total = n * g * g * p * p;
  PatchifyKernel<T>
      <<<GridFor(total, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(out, img, total, S, p, g, shift, scale);
  BRAID_CUDA_CHECK_LAUNCH("PatchifyKernel");
}

template <typename T>
void unpatchify(T* img, const T* rows, int64_t n, int64_t S, int64_t p) {
  if (n <= 0 || p <= 0 || S < p) return;
  const int64_t g = S / p, total = n * g * g * p * p;
  UnpatchifyKernel<T>
      <<<GridFor(total, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(img, rows, total, S, p, g);
  BRAID_CUDA_CHECK_LAUNCH("UnpatchifyKernel");
}

#define BRAID_INSTANTIATE(T)                                                                \
  template void patchify<T>(T*, const T*, int64_t, int64_t, int64_t, float, float);        \
  template void unpatchify<T>(T*, const T*, int64_t, int64_t, int64_t);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(braid::cuda::bf16)
#undef BRAID_INSTANTIATE

}  // namespace braid::ops::cuda
