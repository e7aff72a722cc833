#include "common/ops/cpu/activation.h"

#include <cmath>
#include <type_traits>

#include "common/base/host_cores.h"
#include "common/ops/backend.h"
#include "common/ops/math/elementwise.h"

namespace braid::ops {
// The per-element math is math/elementwise.h's (shared with the CUDA kernels).
template <typename T>
void gelu_forward(T* out, const T* inp, int64_t n) {
  BRAID_DEVICE_DISPATCH(gelu_forward, out, inp, n);
  AtOpBoundary();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = math::Gelu(inp[i]);
}

template <typename T>
void gelu_backward(T* dinp, const T* dout, const T* inp, int64_t n) {
  BRAID_DEVICE_DISPATCH(gelu_backward, dinp, dout, inp, n);
  AtOpBoundary();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) dinp[i] += dout[i] * math::GeluGrad(inp[i]);
}

template <typename T>
void swiglu_forward(T* out, const T* inp, int64_t N, int64_t H) {
  BRAID_DEVICE_DISPATCH(swiglu_forward, out, inp, N, H);
  AtOpBoundary();
#pragma omp parallel for schedule(static) if (N * H > 65536)
  for (int64_t n = 0; n < N; ++n) {
    const T* a = inp + n * 2 * H;
    const T* b = a + H;
    T* o = out + n * H;
    for (int64_t h = 0; h < H; ++h) o[h] = math::Swiglu(a[h], b[h]);
  }
}

template <typename T>
void swiglu_backward(T* dinp, const T* dout, const T* inp, int64_t N, int64_t H) {
  BRAID_DEVICE_DISPATCH(swiglu_backward, dinp, dout, inp, N, H);
  AtOpBoundary();
#pragma omp parallel for schedule(static) if (N * H > 65536)
  for (int64_t n = 0; n < N; ++n) {
    const T* a = inp + n * 2 * H;
    const T* b = a + H;
    T* da = dinp + n * 2 * H;
    T* db = da + H;
    const T* d = dout + n * H;
    for (int64_t h = 0; h < H; ++h) {
      T ga, gb;
      math::SwigluGrad(a[h], b[h], d[h], &ga, &gb);
      da[h] += ga;
      db[h] += gb;
    }
  }
}

template <typename T>
void residual_forward(T* out, const T* a, const T* b, int64_t n) {
  BRAID_DEVICE_DISPATCH(residual_forward, out, a, b, n);
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

template <typename T>
void residual_backward(T* da, T* db, const T* dout, int64_t n) {
  BRAID_DEVICE_DISPATCH(residual_backward, da, db, dout, n);
  for (int64_t i = 0; i < n; ++i) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

#define BRAID_INSTANTIATE(T)                                                     \
  template void gelu_forward<T>(T*, const T*, int64_t);                         \
  template void gelu_backward<T>(T*, const T*, const T*, int64_t);              \
  template void swiglu_forward<T>(T*, const T*, int64_t, int64_t);              \
  template void swiglu_backward<T>(T*, const T*, const T*, int64_t, int64_t);   \
  template void residual_forward<T>(T*, const T*, const T*, int64_t);           \
  template void residual_backward<T>(T*, T*, const T*, int64_t);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(double)

}  // namespace braid::ops
