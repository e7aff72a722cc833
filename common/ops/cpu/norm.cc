#include "common/ops/cpu/norm.h"

#include <type_traits>

#include "common/base/host_cores.h"
#include "common/ops/backend.h"
#include "common/ops/math/norm.h"

namespace braid::ops {

template <typename T>
void rmsnorm_forward(T* out, T* rstd, const T* inp, const T* weight, int64_t N, int64_t C, T eps) {
  BRAID_DEVICE_DISPATCH(rmsnorm_forward, out, rstd, inp, weight, N, C, eps);
  AtOpBoundary();
#pragma omp parallel for schedule(static) if (N * C > 32768)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = inp + n * C;
    double ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += double(x[c]) * double(x[c]);
    T r = T(math::NormRstd(ss, double(C), double(eps)));
    rstd[n] = r;
    T* o = out + n * C;
    for (int64_t c = 0; c < C; ++c) o[c] = math::RmsNormOut(x[c], r, weight[c]);
  }
}

template <typename T>
void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, const T* rstd, int64_t N,
                      int64_t C) {
  BRAID_DEVICE_DISPATCH(rmsnorm_backward, dinp, dweight, dout, inp, weight, rstd, N, C);
  AtOpBoundary();
  // y_c = x_c r w_c, r = (mean(x^2)+eps)^-1/2
  // dx_c = r w_c dy_c - r^3 x_c / C * sum_k(dy_k w_k x_k)
#pragma omp parallel for schedule(static) if (N * C > 32768)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = inp + n * C;
    const T* dy = dout + n * C;
    T r = rstd[n];
    double dot = 0;
    for (int64_t c = 0; c < C; ++c) dot += math::RmsNormDotTerm(double(dy[c]), double(weight[c]), double(x[c]));
    T k = math::RmsNormBackwardCoeff(T(dot), r, T(C));
    T* dx = dinp + n * C;
    for (int64_t c = 0; c < C; ++c) dx[c] += math::RmsNormDx(dy[c], x[c], weight[c], r, k);
  }
  // Weight gradient: reduce over rows in a fixed order (deterministic).
  for (int64_t n = 0; n < N; ++n) {
    const T* x = inp + n * C;
    const T* dy = dout + n * C;
    T r = rstd[n];
    for (int64_t c = 0; c < C; ++c) dweight[c] += math::RmsNormDw(dy[c], x[c], r);
  }
}

template <typename T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* inp, const T* weight, const T* bias, int64_t N, int64_t C,
                       T eps) {
  BRAID_DEVICE_DISPATCH(layernorm_forward, out, mean, rstd, inp, weight, bias, N, C, eps);
  AtOpBoundary();
#pragma omp parallel for schedule(static) if (N * C > 32768)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = inp + n * C;
    double m = 0;
    for (int64_t c = 0; c < C; ++c) m += double(x[c]);
    m /= double(C);
    double v = 0;
    for (int64_t c = 0; c < C; ++c) v += (double(x[c]) - m) * (double(x[c]) - m);
    T r = T(math::NormRstd(v, double(C), double(eps)));
    mean[n] = T(m);
    rstd[n] = r;
    T* o = out + n * C;
    for (int64_t c = 0; c < C; ++c) o[c] = math::LayerNormOut(x[c], T(m), r, weight[c], bias[c]);
  }
}

template <typename T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, const T* mean,
                        const T* rstd, int64_t N, int64_t C) {
  BRAID_DEVICE_DISPATCH(layernorm_backward, dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
  AtOpBoundary();
  // xhat = (x - m) r; dxhat = dy w
  // dx = r * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
#pragma omp parallel for schedule(static) if (N * C > 32768)
  for (int64_t n = 0; n < N; ++n) {
    const T* x = inp + n * C;
    const T* dy = dout + n * C;
    T m = mean[n], r = rstd[n];
    double s1 = 0, s2 = 0;
    for (int64_t c = 0; c < C; ++c)
      math::LayerNormDotTerms(double(dy[c]), double(weight[c]), double(x[c]), double(m), double(r), &s1, &s2);
    T a = T(s1 / double(C)), b = T(s2 / double(C));
    T* dx = dinp + n * C;
    for (int64_t c = 0; c < C; ++c) dx[c] += math::LayerNormDx(dy[c], x[c], weight[c], m, r, a, b);
  }
  for (int64_t n = 0; n < N; ++n) {
    const T* x = inp + n * C;
    const T* dy = dout + n * C;
    T m = mean[n], r = rstd[n];
    for (int64_t c = 0; c < C; ++c) {
      dweight[c] += math::LayerNormDw(dy[c], x[c], m, r);
      dbias[c] += dy[c];
    }
  }
}

#define BRAID_INSTANTIATE(T)                                                                                      \
  template void rmsnorm_forward<T>(T*, T*, const T*, const T*, int64_t, int64_t, T);                             \
  template void rmsnorm_backward<T>(T*, T*, const T*, const T*, const T*, const T*, int64_t, int64_t);           \
  template void layernorm_forward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t, T);              \
  template void layernorm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, int64_t,      \
                                      int64_t);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(double)

}  // namespace braid::ops
