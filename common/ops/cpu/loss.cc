#include "common/ops/cpu/loss.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "common/base/check.h"
#include "common/base/host_cores.h"
#include "common/ops/backend.h"
#include "common/ops/math/loss.h"

namespace braid::ops {

// The per-row arithmetic (row loss, gradient element, squared error) is
// math/loss.h's, shared with the CUDA kernels. The CPU reduces a row in two
// passes (max, then the sum of exp) where the GPU folds it online.

namespace {

// The rows' loss sum; the shared body of the op and the host form.
template <typename T>
double CrossEntropyRows(T* losses, const T* logits, const int32_t* targets, int64_t N, int64_t V, int64_t* count) {
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
double SquaredErrorSum(const T* pred, const T* target, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += math::SquaredError(double(pred[i]), double(target[i]));
  return s;
}

void CheckHostOnly(const char* what) {
  BRAID_CHECK_MSG(CurrentDeviceOps() == nullptr, "%s takes host arrays; on a device use the accumulating op", what);
}

}  // namespace

template <typename T>
void cross_entropy_forward(T* losses, double* loss_sum, const T* logits, const int32_t* targets, int64_t N,
                           int64_t V) {
  BRAID_DEVICE_DISPATCH(cross_entropy_forward, losses, loss_sum, logits, targets, N, V);
  AtOpBoundary();
  *loss_sum += CrossEntropyRows(losses, logits, targets, N, V, nullptr);
}

template <typename T>
double cross_entropy_host(T* losses, const T* logits, const int32_t* targets, int64_t N, int64_t V,
                          int64_t* count) {
  CheckHostOnly("cross_entropy_host");
  return CrossEntropyRows(losses, logits, targets, N, V, count);
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
void mse_rows_forward(double* sum, const T* pred, const T* target, int64_t rows, int64_t cols, double divisor) {
  BRAID_DEVICE_DISPATCH(mse_rows_forward, sum, pred, target, rows, cols, divisor);
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) total += SquaredErrorSum(pred + r * cols, target + r * cols, cols) / double(cols);
  *sum += total / divisor;
}

template <typename T>
double squared_error_host(const T* pred, const T* target, int64_t n) {
  CheckHostOnly("squared_error_host");
  return SquaredErrorSum(pred, target, n);
}

template <typename T>
void mse_backward(T* dpred, const T* pred, const T* target, int64_t n, T scale) {
  BRAID_DEVICE_DISPATCH(mse_backward, dpred, pred, target, n, scale);
  for (int64_t i = 0; i < n; ++i) dpred[i] += math::SquaredErrorGrad(pred[i], target[i], scale);
}

#define BRAID_INSTANTIATE(T)                                                                                \
  template void cross_entropy_forward<T>(T*, double*, const T*, const int32_t*, int64_t, int64_t);          \
  template void cross_entropy_backward<T>(T*, const T*, const int32_t*, int64_t, int64_t, T);               \
  template void mse_rows_forward<T>(double*, const T*, const T*, int64_t, int64_t, double);                 \
  template void mse_backward<T>(T*, const T*, const T*, int64_t, T);                                        \
  template double cross_entropy_host<T>(T*, const T*, const int32_t*, int64_t, int64_t, int64_t*);          \
  template double squared_error_host<T>(const T*, const T*, int64_t);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(double)

}  // namespace braid::ops
