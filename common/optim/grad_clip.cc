#include "common/optim/grad_clip.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/ops/backend.h"

namespace braid {

namespace {
constexpr int64_t kBlock = 1 << 15;
}

double GradNorm(const float* grads, int64_t n) {
  if (const ops::DeviceOps* d = ops::DeviceWith(&ops::DeviceOps::grad_norm, "grad_norm")) {
    return d->grad_norm(grads, n);
  }
  if (n <= 0) return 0.0;
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
  return std::sqrt(total);
}

void ClipToNorm(float* grads, int64_t n, double norm, double max_norm) {
  if (const ops::DeviceOps* d = ops::DeviceWith(&ops::DeviceOps::clip_to_norm, "clip_to_norm")) {
    d->clip_to_norm(grads, n, norm, max_norm);
    return;
  }
  if (max_norm > 0.0 && std::isfinite(norm) && norm > max_norm) {
    const float scale = static_cast<float>(max_norm / norm);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) grads[i] *= scale;
  }
}

double ClipGradNorm(float* grads, int64_t n, double max_norm) {
  const double norm = GradNorm(grads, n);
  ClipToNorm(grads, n, norm, max_norm);
  return norm;
}

}  // namespace braid
