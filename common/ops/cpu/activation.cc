#include "common/ops/cpu/activation.h"

#include "common/base/host_cores.h"

#include <cmath>

namespace braid::ops {
namespace {
constexpr double kGeluC = 0.7978845608028654;  // sqrt(2/pi)
}

// 0.5 x (1 + tanh(u)) == x * sigmoid(2u): written with exp, which is several
// times faster than std::tanh here (glibc), and exact in real arithmetic.
template <typename T>
void gelu_forward(T* out, const T* inp, int64_t n) {
  AtOpBoundary();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    T x = inp[i];
    T u = T(kGeluC) * (x + T(0.044715) * x * x * x);
    out[i] = x / (T(1) + std::exp(T(-2) * u));
  }
}

template <typename T>
void gelu_backward(T* dinp, const T* dout, const T* inp, int64_t n) {
  AtOpBoundary();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    T x = inp[i];
    T u = T(kGeluC) * (x + T(0.044715) * x * x * x);
    T sig = T(1) / (T(1) + std::exp(T(-2) * u));  // (1 + tanh u) / 2
    T th = T(2) * sig - T(1);
    T sech2 = T(1) - th * th;
    T du = T(kGeluC) * (T(1) + T(3 * 0.044715) * x * x);
    dinp[i] += dout[i] * (sig + T(0.5) * x * sech2 * du);
  }
}

template <typename T>
void swiglu_forward(T* out, const T* inp, int64_t N, int64_t H) {
  AtOpBoundary();
#pragma omp parallel for schedule(static) if (N * H > 65536)
  for (int64_t n = 0; n < N; ++n) {
    const T* a = inp + n * 2 * H;
    const T* b = a + H;
    T* o = out + n * H;
    for (int64_t h = 0; h < H; ++h) {
      T s = T(1) / (T(1) + std::exp(-a[h]));
      o[h] = a[h] * s * b[h];
    }
  }
}

template <typename T>
void swiglu_backward(T* dinp, const T* dout, const T* inp, int64_t N, int64_t H) {
  AtOpBoundary();
#pragma omp parallel for schedule(static) if (N * H > 65536)
  for (int64_t n = 0; n < N; ++n) {
    const T* a = inp + n * 2 * H;
    const T* b = a + H;
    T* da = dinp + n * 2 * H;
    T* db = da + H;
    const T* d = dout + n * H;
    for (int64_t h = 0; h < H; ++h) {
      T s = T(1) / (T(1) + std::exp(-a[h]));
      T silu = a[h] * s;
      da[h] += d[h] * b[h] * s * (T(1) + a[h] * (T(1) - s));
      db[h] += d[h] * silu;
    }
  }
}

template <typename T>
void residual_forward(T* out, const T* a, const T* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

template <typename T>
void residual_backward(T* da, T* db, const T* dout, int64_t n) {
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
