#include "common/ops/cpu/diffusion.h"

#include <cmath>
#include <type_traits>

#include "common/base/host_cores.h"
#include "common/ops/backend.h"
#include "common/ops/math/diffusion.h"

namespace braid::ops {

template <typename T>
void timestep_features(T* out, const int32_t* t, int64_t n, int64_t C) {
  BRAID_DEVICE_DISPATCH(timestep_features, out, t, n, C);
  AtOpBoundary();
  const int64_t half = C / 2;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < 2 * half; ++j) out[i * C + j] = T(math::TimestepFeature(t[i], j, half));
}

template <typename T>
void diffusion_noise(T* xt, T* eps, const T* images, const uint64_t* keys, const T* coef, int64_t m, int64_t R,
                     int64_t pix) {
  BRAID_DEVICE_DISPATCH(diffusion_noise, xt, eps, images, keys, coef, m, R, pix);
  AtOpBoundary();
  for (int64_t r = 0; r < m; ++r) {
    const T a = coef[2 * r], b = coef[2 * r + 1];
    const T* img = images + (r / R) * pix;
    for (int64_t j = 0; j < pix; ++j) {
      const T e = T(math::KeyedNormalAt(keys[r], 1, uint64_t(j)));
      eps[r * pix + j] = e;
      xt[r * pix + j] = T(math::NoisedPixel(img[j], e, a, b));
    }
  }
}

template <typename T>
void keyed_normal(T* out, uint64_t key, int64_t n) {
  BRAID_DEVICE_DISPATCH(keyed_normal, out, key, n);
  AtOpBoundary();
  for (int64_t k = 0; k < n; ++k) out[k] = T(math::KeyedNormalAt(key, 0, uint64_t(k)));
}

template <typename T>
void ddim_update(T* x, const T* eps, int64_t n, double ab, double ab_prev) {
  BRAID_DEVICE_DISPATCH(ddim_update, x, eps, n, ab, ab_prev);
  AtOpBoundary();
  const double sa = std::sqrt(ab), sb = std::sqrt(1.0 - ab);
  const double pa = std::sqrt(ab_prev), pb = std::sqrt(1.0 - ab_prev);
  for (int64_t i = 0; i < n; ++i) x[i] = T(math::DdimStep(x[i], eps[i], sa, sb, pa, pb));
}

template <typename T>
void diffusion_to_pixels(T* x, int64_t n) {
  BRAID_DEVICE_DISPATCH(diffusion_to_pixels, x, n);
  AtOpBoundary();
  for (int64_t i = 0; i < n; ++i) x[i] = T(math::DiffusionToPixel(x[i]));
}

template void timestep_features<float>(float*, const int32_t*, int64_t, int64_t);
template void diffusion_noise<float>(float*, float*, const float*, const uint64_t*, const float*, int64_t, int64_t,
                                     int64_t);
template void keyed_normal<float>(float*, uint64_t, int64_t);
template void ddim_update<float>(float*, const float*, int64_t, double, double);
template void diffusion_to_pixels<float>(float*, int64_t);

}  // namespace braid::ops
