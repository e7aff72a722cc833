#include "common/ops/cpu/loss.h"

#include <cmath>
#include <type_traits>

#include "common/base/host_cores.h"
#include "common/ops/backend.h"
#include "common/ops/math/loss.h"

namespace braid::ops {

// The per-row arithmetic (row loss, gradient element, squared error) is
// math/loss.h's, shared with the CUDA kernels. The CPU reduces a row in two
// passes (max, then the sum of exp) where the GPU folds it online.

template <typename T>
double cross_entropy_forward(T* losses, const T* logits, const int32_t* targets, int64_t N, int64_t V,
                             int64_t* count) {
  BRAID_DEVICE_DISPATCH(cross_entropy_forward, losses, logits, targets, N, V, count);
  AtOpBoundary();
  double total = 0;
  int64_t cnt = 0;
  for (int64_t n = 0; n < N; ++n) {
    if (targets[n] < 0) {
      if (losses) losses[n] = 0;
      continue;
    }
    const T* x = logits + n * V;
    T mx = x[0];
    for (int64_t v = 1; v < V; ++v) mx = std::max(mx, x[v]);
    double sum = 0;  // exp in the working precision, the sum in double
    for (int64_t v = 0; v < V; ++v) sum += double(std::exp(x[v] - mx));
    double l = math::CrossEntropyRowLoss(double(mx), sum, double(x[targets[n]]));
    if (losses) losses[n] = T(l);
    total += l;
    ++cnt;
  }
  if (count) *count = cnt;
  return total;
}

template <typename T>
void cross_entropy_backward(T* dlogits, const T* logits, const int32_t* targets, int64_t N, int64_t V, T scale) {
  BRAID_DEVICE_DISPATCH(cross_entropy_backward, dlogits, logits, targets, N, V, scale);
  AtOpBoundary();
#pragma omp parallel for schedule(static) if (N * V > 65536)
  for (int64_t n = 0; n < N; ++n) {
    if (targets[n] < 0) continue;
    const T* x = logits + n * V;
    T* d = dlogits + n * V;
    T mx = x[0];
    for (int64_t v = 1; v < V; ++v) mx = std::max(mx, x[v]);
    T sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(x[v] - mx);
    T inv = T(1) / sum;
    const int64_t t = targets[n];
    for (int64_t v = 0; v < V; ++v) d[v] = math::CrossEntropyGrad(d[v], x[v], mx, inv, scale, v == t);
  }
}

template <typename T>
double mse_forward(const T* pred, const T* target, int64_t n) {
  BRAID_DEVICE_DISPATCH(mse_forward, pred, target, n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += math::SquaredError(double(pred[i]), double(target[i]));
  return s;
}

template <typename T>
void mse_backward(T* dpred, const T* pred, const T* target, int64_t n, T scale) {
  BRAID_DEVICE_DISPATCH(mse_backward, dpred, pred, target, n, scale);
  for (int64_t i = 0; i < n; ++i) dpred[i] += math::SquaredErrorGrad(pred[i], target[i], scale);
}

#define BRAID_INSTANTIATE(T)                                                                              \
  template double cross_entropy_forward<T>(T*, const T*, const int32_t*, int64_t, int64_t, int64_t*);     \
  template void cross_entropy_backward<T>(T*, const T*, const int32_t*, int64_t, int64_t, T);             \
  template double mse_forward<T>(const T*, const T*, int64_t);                                            \
  template void mse_backward<T>(T*, const T*, const T*, int64_t, T);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(double)

}  // namespace braid::ops
