#include "common/optim/adamw.h"

#include <algorithm>

#include "common/base/check.h"
#include "common/base/host_cores.h"
#include "common/ops/backend.h"
#include "common/ops/math/adamw.h"

namespace braid {

AdamW::AdamW(int64_t size, AdamWConfig cfg)
    : cfg_(cfg), m_(static_cast<size_t>(size), 0.0f), v_(static_cast<size_t>(size), 0.0f) {}

void AdamW::Step(ParamBuffer& pb, float lr) {
  const int64_t sized = size();
  BRAID_CHECK_MSG(pb.size() == sized, "AdamW sized %lld, ParamBuffer has %lld", static_cast<long long>(sized),
                  static_cast<long long>(pb.size()));
  ++t_;
  // The element update and its bias corrections are math/adamw.h's (shared
  // with the CUDA AdamW).
  const math::AdamWScalars<float> s = math::AdamWScalarsAt(lr, cfg_.beta1, cfg_.beta2, cfg_.eps, t_);
  if (on_device()) {
    const ops::DeviceOps* d = ops::DeviceWith(&ops::DeviceOps::adamw_step, "adamw_step");
    BRAID_CHECK_MSG(d != nullptr && pb.on_device(), "AdamW on the device needs the device backend and pb on it");
    d->adamw_step(pb.params_data(), dm_.data(), dv_.data(), pb.grads_data(), decay_mask_.data(), pb.size(), s.lr,
                  s.beta1, s.beta2, s.eps, s.bc1, s.bc2_sqrt, math::AdamWDecay(lr, cfg_.weight_decay, true));
    return;
  }
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

std::vector<float>& AdamW::m() {
  BRAID_CHECK_MSG(!on_device(), "AdamW::m() on the device (use MomentsToHost)");
  return m_;
}
std::vector<float>& AdamW::v() {
  BRAID_CHECK_MSG(!on_device(), "AdamW::v() on the device (use MomentsToHost)");
  return v_;
}
const std::vector<float>& AdamW::m() const {
  BRAID_CHECK_MSG(!on_device(), "AdamW::m() on the device (use MomentsToHost)");
  return m_;
}
const std::vector<float>& AdamW::v() const {
  BRAID_CHECK_MSG(!on_device(), "AdamW::v() on the device (use MomentsToHost)");
  return v_;
}

void AdamW::MoveToDevice(const ParamBuffer& pb) {
  BRAID_CHECK(!on_device() && pb.size() == static_cast<int64_t>(m_.size()));
  BRAID_CHECK_MSG(ops::CurrentDeviceMemory() != nullptr, "AdamW::MoveToDevice with no device backend set");
  const int64_t n = pb.size();
  dm_.Resize({n});
  dv_.Resize({n});
  dm_.CopyFromHost(m_.data(), n);
  dv_.CopyFromHost(v_.data(), n);
  const std::vector<uint8_t> mask = AdamWDecayMask(pb);
  decay_mask_.Resize({n});
  decay_mask_.CopyFromHost(mask.data(), n);
  m_ = {};
  v_ = {};
}

void AdamW::MomentsToHost(std::vector<float>* m, std::vector<float>* v) const {
  *m = on_device() ? dm_.ToHost() : m_;
  *v = on_device() ? dv_.ToHost() : v_;
}

void AdamW::MomentsFromHost(const std::vector<float>& m, const std::vector<float>& v) {
  BRAID_CHECK(static_cast<int64_t>(m.size()) == size() && static_cast<int64_t>(v.size()) == size());
  if (on_device()) {
    dm_.CopyFromHost(m.data(), size());
    dv_.CopyFromHost(v.data(), size());
  } else {
    m_ = m;
    v_ = v;
  }
}

void AdamWStepFlat(float* p, float* m, float* v, const float* g, const uint8_t* decay_mask, int64_t n, float lr,
                   float beta1, float beta2, float eps, float bc1, float bc2_sqrt, float decay_on) {
  const math::AdamWScalars<float> s{lr, beta1, beta2, eps, bc1, bc2_sqrt};
#pragma omp parallel for schedule(static) if (n > 16384)
  for (int64_t i = 0; i < n; ++i) {
    const float decay = decay_mask == nullptr || decay_mask[i] != 0 ? decay_on : 0.0f;
    math::AdamWUpdate(&p[i], &m[i], &v[i], g[i], decay, s);
  }
}

std::vector<uint8_t> AdamWDecayMask(const ParamBuffer& pb) {
  std::vector<uint8_t> mask(static_cast<size_t>(pb.size()), 0);
  for (const ParamView& view : pb.views())
    std::fill(mask.begin() + view.offset, mask.begin() + view.offset + view.numel, view.decay ? 1 : 0);
  return mask;
}

}  // namespace braid
