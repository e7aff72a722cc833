#include "common/ops/cpu/patch.h"

#include <type_traits>

#include "common/base/host_cores.h"
#include "common/ops/backend.h"

namespace braid::ops {

template <typename T>
void patchify(T* out, const T* img, int64_t n, int64_t S, int64_t p, T shift, T scale) {
  BRAID_DEVICE_DISPATCH(patchify, out, img, n, S, p, shift, scale);
  AtOpBoundary();
  const int64_t g = S / p, pd = p * p;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t gy = 0; gy < g; ++gy)
      for (int64_t gx = 0; gx < g; ++gx) {
        T* dst = out + (i * g * g + gy * g + gx) * pd;
        for (int64_t y = 0; y < p; ++y)
          for (int64_t x = 0; x < p; ++x) dst[y * p + x] = (img[i * S * S + (gy * p + y) * S + gx * p + x] - shift) / scale;
      }
}

template <typename T>
void unpatchify(T* img, const T* rows, int64_t n, int64_t S, int64_t p) {
  BRAID_DEVICE_DISPATCH(unpatchify, img, rows, n, S, p);
  AtOpBoundary();
  const int64_t g = S / p, pd = p * p;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t gy = 0; gy < g; ++gy)
      for (int64_t gx = 0; gx < g; ++gx) {
        const T* src = rows + (i * g * g + gy * g + gx) * pd;
        for (int64_t y = 0; y < p; ++y)
          for (int64_t x = 0; x < p; ++x) img[i * S * S + (gy * p + y) * S + gx * p + x] = src[y * p + x];
      }
}

template void patchify<float>(float*, const float*, int64_t, int64_t, int64_t, float, float);
template void patchify<double>(double*, const double*, int64_t, int64_t, int64_t, double, double);
template void unpatchify<float>(float*, const float*, int64_t, int64_t, int64_t);
template void unpatchify<double>(double*, const double*, int64_t, int64_t, int64_t);

}  // namespace braid::ops
