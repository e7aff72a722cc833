// AdamW over one module's flat ParamBuffer (Loshchilov & Hutter, decoupled
// weight decay). The moments m, v are flat arrays parallel to params(), so
// the checkpoint can save them view by view.
#pragma once

#include <cstdint>
#include <vector>

#include "common/tensor/param_buffer.h"

namespace braid {

struct AdamWConfig {
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0.0f;
};

class AdamW {
 public:
  AdamW(int64_t size, AdamWConfig cfg);

  // One step over the whole buffer, per element i (t counts from 1):
  //   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
  //   p -= lr*wd*p                       (only in views with decay == true)
  //   p -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
  // Element-wise, so the result does not depend on the thread count.
  // pb.size() must equal the size given to the constructor.
  void Step(ParamBuffer& pb, float lr);

  int64_t t() const { return t_; }
  void set_t(int64_t t) { t_ = t; }
  // Host moments (abort once moved to the device; use MomentsToHost).
  std::vector<float>& m();
  std::vector<float>& v();
  const std::vector<float>& m() const;
  const std::vector<float>& v() const;

  // Device ranks: moves m, v and the per-element decay mask of `pb` into the
  // calling thread's device memory; Step then runs the device's AdamW on
  // pb's device arrays (one launch over the flat buffer).
  void MoveToDevice(const ParamBuffer& pb);
  bool on_device() const { return dm_.on_device(); }
  void MomentsToHost(std::vector<float>* m, std::vector<float>* v) const;
  void MomentsFromHost(const std::vector<float>& m, const std::vector<float>& v);
  int64_t size() const { return on_device() ? dm_.numel() : static_cast<int64_t>(m_.size()); }
  const AdamWConfig& config() const { return cfg_; }

 private:
  AdamWConfig cfg_;
  int64_t t_ = 0;
  std::vector<float> m_, v_;
  Tensor dm_, dv_;                // after MoveToDevice
  TensorT<uint8_t> decay_mask_;  // after MoveToDevice
};

// One byte per element of pb: 1 where AdamW's weight decay applies (the
// element's view has decay == true), else 0; the CUDA AdamW's decay mask
// (ops/cuda/adamw.h). The views tile the buffer, so every element has one.
std::vector<uint8_t> AdamWDecayMask(const ParamBuffer& pb);

// The device op's contract on the host (the guarded test device runs it):
// one AdamW step over a flat buffer, decay_on where decay_mask[i] != 0 (null:
// everywhere), the same element update as AdamW::Step.
void AdamWStepFlat(float* p, float* m, float* v, const float* g, const uint8_t* decay_mask, int64_t n, float lr,
                   float beta1, float beta2, float eps, float bc1, float bc2_sqrt, float decay_on);

}  // namespace braid
