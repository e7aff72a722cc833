#include "common/optim/adamw.h"

#include <algorithm>

#include "common/base/check.h"
#include "common/base/host_cores.h"
#include "common/ops/math/adamw.h"

namespace braid {

AdamW::AdamW(int64_t size, AdamWConfig cfg)
    : cfg_(cfg), m_(static_cast<size_t>(size), 0.0f), v_(static_cast<size_t>(size), 0.0f) {}

void AdamW::Step(ParamBuffer& pb, float lr) {
  BRAID_CHECK_MSG(pb.size() == static_cast<int64_t>(m_.size()),
                  "AdamW sized %zu, ParamBuffer has %lld", m_.size(), static_cast<long long>(pb.size()));
  ++t_;
  // The element update and its bias corrections are math/adamw.h's (shared
  // with the CUDA AdamW).
  const math::AdamWScalars<float> s = math::AdamWScalarsAt(lr, cfg_.beta1, cfg_.beta2, cfg_.eps, t_);
  float* p = pb.params().data();
  const float* g = pb.grads().data();
  float* m = m_.data();
  float* v = v_.data();
  for (const ParamView& view : pb.views()) {
    const float decay = math::AdamWDecay(lr, cfg_.weight_decay, view.decay);
    const int64_t begin = view.offset, end = view.offset + view.numel;
    AtOpBoundary();  // a peer starting to compute gets its core back within one view
#pragma omp parallel for schedule(static) if (view.numel > 16384)
    for (int64_t i = begin; i < end; ++i) math::AdamWUpdate(&p[i], &m[i], &v[i], g[i], decay, s);
  }
}

std::vector<uint8_t> AdamWDecayMask(const ParamBuffer& pb) {
  std::vector<uint8_t> mask(static_cast<size_t>(pb.size()), 0);
  for (const ParamView& view : pb.views())
    std::fill(mask.begin() + view.offset, mask.begin() + view.offset + view.numel, view.decay ? 1 : 0);
  return mask;
}

}  // namespace braid
