// Image generator: a small DiT-style diffusion transformer with in-context
// conditioning. Each generation target is one packed sequence
//   [gen_slots conditioning tokens | 1 timestep token | P image patch tokens]
// with bidirectional attention; the conditioning tokens are the LLM's final
// hidden states at the generation slots, projected to the generator width.
// Trained to predict the noise (MSE); sampled with DDIM.
#pragma once

#include <cstdint>
#include <vector>

#include "common/config/job_config.h"
#include "common/nn/diffusion.h"
#include "common/nn/transformer_block.h"
#include "common/tensor/param_buffer.h"
#include "common/tensor/tensor.h"

namespace braid::nn {

// Everything a Forward saves for its Backward. Several can be alive at once
// (one per microbatch in flight in a pipelined schedule).
struct DitGeneratorActivations {
  int64_t n_ = 0;        // sequences in the last RunNetwork (targets x noise draws)
  int64_t targets_ = 0;  // generation targets in the last Forward
  // Index arrays, built on the host and copied into the thread's memory (the
  // device's when it has a backend): sequence starts, position ids, the
  // timestep of each sequence, and where in the packed sequences the
  // conditioning, timestep and patch tokens sit.
  TensorT<int32_t> cu_, pos_ids_, t_, cond_at_, t_at_, patch_at_;
  Tensor cond_in_, tfreq_, th_, th_act_, patches_, xs0_, lnf_, lnf_mean_, lnf_rstd_, patch_rows_;
  std::vector<Tensor> xs_;
  std::vector<BlockCache> caches_;
  Tensor eps_pred_, eps_true_;
};

class DitGenerator {
 public:
  using Activations = DitGeneratorActivations;

 private:
 public:
  DitGenerator(const GeneratorConfig& cfg, int64_t llm_width);
  void Init(uint64_t seed);
  ParamBuffer& params() { return pb_; }
  const ParamBuffer& params() const { return pb_; }
  int64_t pixels() const { return int64_t(cfg_.image_size) * cfg_.image_size; }
  const GeneratorConfig& config() const { return cfg_; }

  // cond: (n*gen_slots, llm_width); images: n * S*S in [0,1]; keys: n random
  // keys (timestep and noise are drawn from them: randomness keyed by sample).
  // With a device backend on the thread, cond and images are device memory;
  // keys are on the host.
  // Each target is noised noise_samples times (keys HashKey(key, r)); its loss
  // is the mean over those draws of the mean squared noise error. Adds the
  // sum over targets to *loss_sum (a double in the thread's memory: device
  // memory on a device; null: no loss).
  void Forward(const float* cond, const float* images, const uint64_t* keys, int64_t n, double* loss_sum,
               Activations* acts = nullptr);
  // scale: 1 / (global generation-target count). dcond: (n*gen_slots, llm_width), overwritten.
  void Backward(float scale, Tensor* dcond, Activations* acts = nullptr);

  // Inference: the predicted noise (n, S*S) for noisy images xt (n, S*S, in
  // the [-1, 1] image space) at timesteps t, conditioned on cond (n*gen_slots rows).
  // cond and xt: the thread's memory (device, with a backend); t: host.
  std::vector<float> PredictNoise(const float* cond, const float* xt, const int* t, int64_t n);
  const DiffusionSchedule& schedule() const { return schedule_; }

  // DDIM sampling (eta = 0) conditioned on cond (the thread's memory);
  // returns n * S*S in [0,1] on the host.
  std::vector<float> Sample(const float* cond, int64_t n, uint64_t seed, int steps);

 private:
  // eps_pred (n, S*S) for noisy images xt at timesteps t (host array).
  void RunNetwork(const float* cond, const float* xt, const int* t, int64_t n, Tensor* eps_pred);
  void BackwardNetwork(const float* deps, Tensor* dcond);

  GeneratorConfig cfg_;
  int64_t llm_width_, C_, P_, pdim_, K_, L_;  // L_ = K + 1 + P tokens per target
  DiffusionSchedule schedule_;
  ParamBuffer pb_;
  int cond_w_, cond_b_, t1_w_, t1_b_, t2_w_, t2_b_, in_w_, in_b_, pos_, lnf_w_, lnf_b_, out_w_, out_b_;
  std::vector<TransformerBlock> blocks_;

  // Activations of the current microbatch (own_ unless the caller passed one).
  Activations own_;
  Activations* act_ = &own_;
  void Use(Activations* acts) {
    act_ = acts ? acts : &own_;
    if (act_->xs_.size() != blocks_.size() + 1) act_->xs_.resize(blocks_.size() + 1);
    if (act_->caches_.size() != blocks_.size()) act_->caches_.resize(blocks_.size());
  }
};

}  // namespace braid::nn
