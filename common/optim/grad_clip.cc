#include "common/optim/grad_clip.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/ops/backend.h"
#include "common/tensor/tensor.h"

namespace braid {

namespace {
constexpr int64_t kBlock = 1 << 15;
}

void GradNormInto(double* norm, const float* grads, int64_t n) {
  if (const ops::DeviceOps* d = ops::DeviceWith(&ops::DeviceOps::grad_norm, "grad_norm")) {
    AtOpBoundary();
    d->grad_norm(norm, grads, n);
    return;
  }
  if (n <= 0) {
    *norm = 0.0;
    return;
  }
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(blocks), 0.0);
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t end = std::min(n, (b + 1) * kBlock);
    double s = 0.0;
    for (int64_t i = b * kBlock; i < end; ++i) s += static_cast<double>(grads[i]) * grads[i];
    partial[static_cast<size_t>(b)] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  *norm = std::sqrt(total);
}

void ClipToNormAt(float* grads, int64_t n, const double* norm, double max_norm) {
  if (const ops::DeviceOps* d = ops::DeviceWith(&ops::DeviceOps::clip_to_norm, "clip_to_norm")) {
    AtOpBoundary();
    d->clip_to_norm(grads, n, norm, max_norm);
    return;
  }
  const double nm = *norm;
  if (max_norm > 0.0 && std::isfinite(nm) && nm > max_norm) {
    const float scale = static_cast<float>(max_norm / nm);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) grads[i] *= scale;
  }
}

void ClipGradNormInto(float* grads, int64_t n, double max_norm, double* norm) {
  GradNormInto(norm, grads, n);
  ClipToNormAt(grads, n, norm, max_norm);
}

double GradNorm(const float* grads, int64_t n) {
  TensorT<double> norm({1});
  GradNormInto(norm.data(), grads, n);
  return norm.ToHost()[0];
}

double ClipGradNorm(float* grads, int64_t n, double max_norm) {
  TensorT<double> norm({1});
  ClipGradNormInto(grads, n, max_norm, norm.data());
  return norm.ToHost()[0];
}

void ClipToNorm(float* grads, int64_t n, double norm, double max_norm) {
  TensorT<double> at({1});
  at.CopyFromHost(&norm, 1);
  ClipToNormAt(grads, n, at.data(), max_norm);
}

}  // namespace braid
