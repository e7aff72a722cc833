#include "common/optim/adamw.h"

#include <cmath>

#include "common/base/check.h"
#include "common/base/host_cores.h"

namespace braid {

AdamW::AdamW(int64_t size, AdamWConfig cfg)
    : cfg_(cfg), m_(static_cast<size_t>(size), 0.0f), v_(static_cast<size_t>(size), 0.0f) {}

void AdamW::Step(ParamBuffer& pb, float lr) {
  BRAID_CHECK_MSG(pb.size() == static_cast<int64_t>(m_.size()),
                  "AdamW sized %zu, ParamBuffer has %lld", m_.size(), static_cast<long long>(pb.size()));
  ++t_;
  const float b1 = cfg_.beta1, b2 = cfg_.beta2, eps = cfg_.eps;
  // Bias corrections in double: b^t underflows gracefully and stays exact for small t.
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), static_cast<double>(t_)));
  const float bc2_sqrt =
      static_cast<float>(std::sqrt(1.0 - std::pow(static_cast<double>(b2), static_cast<double>(t_))));
  float* p = pb.params().data();
  const float* g = pb.grads().data();
  float* m = m_.data();
  float* v = v_.data();
  for (const ParamView& view : pb.views()) {
    const float decay = view.decay ? lr * cfg_.weight_decay : 0.0f;
    const int64_t begin = view.offset, end = view.offset + view.numel;
    AtOpBoundary();  // a peer starting to compute gets its core back within one view
#pragma omp parallel for schedule(static) if (view.numel > 16384)
    for (int64_t i = begin; i < end; ++i) {
      const float gi = g[i];
      m[i] = b1 * m[i] + (1.0f - b1) * gi;
      v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
      const float mhat = m[i] / bc1;
      const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
      p[i] -= decay * p[i];
      p[i] -= lr * mhat / denom;
    }
  }
}

}  // namespace braid
