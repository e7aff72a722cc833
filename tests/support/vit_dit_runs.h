// The ViT encoder and the DiT generator run end to end (forward, backward,
// and for the DiT noise prediction and DDIM sampling) on the calling thread's
// backend, for comparing a device run against the host run
// (tests/nn_device_vit_dit_test.cc on the guarded fake device,
// tests/gpu/vit_dit_test.cc on CUDA). Inputs and parameters come from a seed;
// a device run builds and initialises the module on the host, moves its
// parameters to the device and uploads its inputs, as a device rank does.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/base/rng.h"
#include "common/config/job_config.h"
#include "common/nn/dit_generator.h"
#include "common/nn/vit_encoder.h"
#include "common/ops/backend.h"
#include "common/tensor/step_scalars.h"
#include "common/tensor/tensor.h"

namespace braid::testing_support {

struct VitRun {
  std::vector<float> out_a, out_b, grads;
};
struct DitRun {
  double loss_a = 0, loss_b = 0;
  std::vector<float> dcond_a, dcond_b, grads, pred, sample;
};

inline std::vector<float> SeededValues(uint64_t key, int64_t n, float lo, float hi) {
  KeyedRng rng(key);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = lo + (hi - lo) * float(rng.Uniform());
  return v;
}

// A tensor of the thread's memory holding `v`.
inline Tensor Put(const std::vector<float>& v) {
  Tensor t({int64_t(v.size())});
  t.CopyFromHost(v.data(), int64_t(v.size()));
  return t;
}

// Every parameter moved off its initial value (the DiT's output layer starts
// at zero, which would leave most gradients zero).
inline void Perturb(ParamBuffer& pb, uint64_t seed) {
  std::vector<float> p = pb.ParamsToHost();
  const std::vector<float> d = SeededValues(seed, int64_t(p.size()), -0.05f, 0.05f);
  for (size_t i = 0; i < p.size(); ++i) p[i] += d[i];
  pb.ParamsFromHost(p);
}

inline EncoderConfig SmallEncoder() {
  EncoderConfig c;
  c.image_size = 12;
  c.patch = 3;
  c.width = 16;
  c.layers = 2;
  c.heads = 2;
  c.mlp_ratio = 2;
  return c;
}

inline GeneratorConfig SmallGenerator() {
  GeneratorConfig c;
  c.image_size = 12;
  c.patch = 3;
  c.width = 16;
  c.layers = 2;
  c.heads = 2;
  c.mlp_ratio = 2;
  c.gen_slots = 2;
  c.diffusion_steps = 50;
  c.sample_steps = 3;
  c.noise_samples = 3;
  return c;
}

// Two microbatches (2 and 3 images) with their own activations, backwards in
// reverse order (as a pipelined schedule runs them). device: null = host.
inline VitRun RunVit(const ops::Backend* device, uint64_t seed) {
  const EncoderConfig cfg = SmallEncoder();
  const int64_t llm_width = 24, pix = int64_t(cfg.image_size) * cfg.image_size;
  nn::VitEncoder enc(cfg, llm_width);
  enc.Init(seed);
  Perturb(enc.params(), HashKey(seed, 1));
  std::optional<ops::ScopedBackend> scope;
  if (device != nullptr) {
    scope.emplace(*device);
    enc.params().MoveToDevice();
  }
  const int64_t na = 2, nb = 3, rows_a = na * enc.patches_per_image(), rows_b = nb * enc.patches_per_image();
  Tensor img_a = Put(SeededValues(HashKey(seed, 2), na * pix, 0.f, 1.f));
  Tensor img_b = Put(SeededValues(HashKey(seed, 3), nb * pix, 0.f, 1.f));
  Tensor dout_a = Put(SeededValues(HashKey(seed, 4), rows_a * llm_width, -1.f, 1.f));
  Tensor dout_b = Put(SeededValues(HashKey(seed, 5), rows_b * llm_width, -1.f, 1.f));
  nn::VitEncoder::Activations acts_a, acts_b;
  Tensor out_a, out_b;
  enc.Forward(img_a.data(), na, &out_a, &acts_a);
  enc.Forward(img_b.data(), nb, &out_b, &acts_b);
  enc.Backward(dout_b.data(), &acts_b);
  enc.Backward(dout_a.data(), &acts_a);
  return {out_a.ToHost(), out_b.ToHost(), enc.params().GradsToHost()};
}

// Two microbatches (2 and 1 targets, noise_samples draws each), backwards in
// reverse order; then a noise prediction and a 3-step DDIM sample.
inline DitRun RunDit(const ops::Backend* device, uint64_t seed) {
  const GeneratorConfig cfg = SmallGenerator();
  const int64_t llm_width = 24, K = cfg.gen_slots;
  nn::DitGenerator gen(cfg, llm_width);
  gen.Init(seed);
  Perturb(gen.params(), HashKey(seed, 1));
  std::optional<ops::ScopedBackend> scope;
  if (device != nullptr) {
    scope.emplace(*device);
    gen.params().MoveToDevice();
  }
  const int64_t pix = gen.pixels(), na = 2, nb = 1;
  Tensor cond_a = Put(SeededValues(HashKey(seed, 2), na * K * llm_width, -1.f, 1.f));
  Tensor cond_b = Put(SeededValues(HashKey(seed, 3), nb * K * llm_width, -1.f, 1.f));
  Tensor img_a = Put(SeededValues(HashKey(seed, 4), na * pix, 0.f, 1.f));
  Tensor img_b = Put(SeededValues(HashKey(seed, 5), nb * pix, 0.f, 1.f));
  const std::vector<uint64_t> keys_a{HashKey(seed, 6), HashKey(seed, 7)}, keys_b{HashKey(seed, 8)};
  nn::DitGenerator::Activations acts_a, acts_b;
  DitRun r;
  StepScalars losses(2);
  gen.Forward(cond_a.data(), img_a.data(), keys_a.data(), na, losses.at(0), &acts_a);
  gen.Forward(cond_b.data(), img_b.data(), keys_b.data(), nb, losses.at(1), &acts_b);
  const std::vector<double> sums = losses.Read();
  r.loss_a = sums[0];
  r.loss_b = sums[1];
  Tensor dcond_a, dcond_b;
  gen.Backward(0.25f, &dcond_b, &acts_b);
  gen.Backward(0.25f, &dcond_a, &acts_a);
  r.dcond_a = dcond_a.ToHost();
  r.dcond_b = dcond_b.ToHost();
  r.grads = gen.params().GradsToHost();
  Tensor xt = Put(SeededValues(HashKey(seed, 9), na * pix, -1.f, 1.f));
  const std::vector<int> ts{3, 41};
  r.pred = gen.PredictNoise(cond_a.data(), xt.data(), ts.data(), na);
  r.sample = gen.Sample(cond_a.data(), na, seed, cfg.sample_steps);
  return r;
}

}  // namespace braid::testing_support
