#include "common/ops/cuda/diffusion.h"

#include <cmath>

#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/math/diffusion.h"

namespace braid::ops::cuda {
namespace {

using braid::cuda::FromFloat;
using braid::cuda::GridFor;
using braid::cuda::ToFloat;

constexpr int kThreads = 256;

#define BRAID_GRID_STRIDE(i, total) \
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < (total); i += int64_t{gridDim.x} * blockDim.x)

// Element o of the (n, 2*half) written columns of out (n, C).
template <typename T>
__global__ void TimestepFeaturesKernel(T* out, const int32_t* t, int64_t n, int64_t C, int64_t half) {
  BRAID_GRID_STRIDE(o, n * 2 * half) {
    const int64_t i = o / (2 * half), j = o % (2 * half);
    out[i * C + j] = FromFloat<T>(math::TimestepFeature(t[i], j, half));
  }
}

template <typename T>
__global__ void DiffusionNoiseKernel(T* xt, T* eps, const T* images, const uint64_t* keys, const T* coef, int64_t m,
                                     int64_t R, int64_t pix) {
  BRAID_GRID_STRIDE(o, m * pix) {
    const int64_t r = o / pix, j = o % pix;
    const float e = ToFloat(FromFloat<T>(math::KeyedNormalAt(keys[r], 1, uint64_t(j))));
    eps[o] = FromFloat<T>(e);
    xt[o] = FromFloat<T>(
        math::NoisedPixel(ToFloat(images[(r / R) * pix + j]), e, ToFloat(coef[2 * r]), ToFloat(coef[2 * r + 1])));
  }
}

template <typename T>
__global__ void KeyedNormalKernel(T* out, uint64_t key, int64_t n) {
  BRAID_GRID_STRIDE(k, n) { out[k] = FromFloat<T>(math::KeyedNormalAt(key, 0, uint64_t(k))); }
}

template <typename T>
__global__ void DdimUpdateKernel(T* x, const T* eps, int64_t n, double sa, double sb, double pa, double pb) {
  BRAID_GRID_STRIDE(i, n) { x[i] = FromFloat<T>(math::DdimStep(ToFloat(x[i]), ToFloat(eps[i]), sa, sb, pa, pb)); }
}

template <typename T>
__global__ void DiffusionToPixelsKernel(T* x, int64_t n) {
  BRAID_GRID_STRIDE(i, n) { x[i] = FromFloat<T>(math::DiffusionToPixel(ToFloat(x[i]))); }
}

#undef BRAID_GRID_STRIDE

}  // namespace

template <typename T>
void timestep_features(T* out, const int32_t* t, int64_t n, int64_t C) {
  const int64_t half = C / 2;
  if (n <= 0 || half <= 0) return;
  TimestepFeaturesKernel<T>
      <<<GridFor(n * 2 * half, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(out, t, n, C, half);
  BRAID_CUDA_CHECK_LAUNCH("TimestepFeaturesKernel");
}

template <typename T>
void diffusion_noise(T* xt, T* eps, const T* images, const uint64_t* keys, const T* coef, int64_t m, int64_t R,
                     int64_t pix) {
  if (m <= 0 || pix <= 0 || R <= 0) return;
  DiffusionNoiseKernel<T><<<GridFor(m * pix, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(
      xt, eps, images, keys, coef, m, R, pix);
  BRAID_CUDA_CHECK_LAUNCH("DiffusionNoiseKernel");
}

template <typename T>
void keyed_normal(T* out, uint64_t key, int64_t n) {
  if (n <= 0) return;
  KeyedNormalKernel<T><<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(out, key, n);
  BRAID_CUDA_CHECK_LAUNCH("KeyedNormalKernel");
}

template <typename T>
void ddim_update(T* x, const T* eps, int64_t n, double ab, double ab_prev) {
  if (n <= 0) return;
  // The square roots once, on the host, as the CPU op does.
  const double sa = std::sqrt(ab), sb = std::sqrt(1.0 - ab), pa = std::sqrt(ab_prev), pb = std::sqrt(1.0 - ab_prev);
  DdimUpdateKernel<T>
      <<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(x, eps, n, sa, sb, pa, pb);
  BRAID_CUDA_CHECK_LAUNCH("DdimUpdateKernel");
}

template <typename T>
void diffusion_to_pixels(T* x, int64_t n) {
  if (n <= 0) return;
  DiffusionToPixelsKernel<T><<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(x, n);
  BRAID_CUDA_CHECK_LAUNCH("DiffusionToPixelsKernel");
}

#define BRAID_INSTANTIATE(T)                                                                                    \
  template void timestep_features<T>(T*, const int32_t*, int64_t, int64_t);                                    \
  template void diffusion_noise<T>(T*, T*, const T*, const uint64_t*, const T*, int64_t, int64_t, int64_t);     \
  template void keyed_normal<T>(T*, uint64_t, int64_t);                                                        \
  template void ddim_update<T>(T*, const T*, int64_t, double, double);                                         \
  template void diffusion_to_pixels<T>(T*, int64_t);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(braid::cuda::bf16)
#undef BRAID_INSTANTIATE

}  // namespace braid::ops::cuda
