// The three modules wired together in one process: encoder -> LLM ->
// generator forward, then backward in reverse, exactly the data path of
// DESIGN.md §2 without the process boundaries. The numerical reference.
#pragma once

#include <memory>

#include "common/config/job_config.h"
#include "common/nn/dit_generator.h"
#include "common/nn/llm.h"
#include "common/nn/vit_encoder.h"
#include "common/tensor/step_scalars.h"
#include "common/train/microbatch.h"

namespace braid::train {

struct MicrobatchLoss {
  double text_sum = 0;  // summed token cross-entropy
  int64_t text_count = 0;
  double gen_sum = 0;   // summed per-target mean squared error
  int64_t gen_count = 0;
};

class MultimodalModel {
 public:
  explicit MultimodalModel(const ModelConfig& cfg);
  void Init(uint64_t seed);  // each module keyed by its own seed stream

  // Forward and (when `backward`) backward of one microbatch; gradients
  // accumulate. Scales are 1/global counts (loss normalisation). Adds the
  // microbatch's loss sums to *text_sum and *gen_sum (doubles in the
  // thread's memory, StepScalars: nothing is read back, so a device step
  // does not wait per microbatch).
  void StepInto(const Microbatch& mb, float text_scale, float gen_scale, bool backward, double* text_sum,
                double* gen_sum);
  // The same, returning the sums on the host (one wait on a device):
  // evaluation, tests.
  MicrobatchLoss Step(const Microbatch& mb, float text_scale, float gen_scale, bool backward);

  nn::VitEncoder& encoder() { return *encoder_; }
  nn::Llm& llm() { return *llm_; }
  nn::DitGenerator& generator() { return *generator_; }
  void ZeroGrads();
  const ModelConfig& config() const { return cfg_; }
  int64_t num_params() const;

 private:
  ModelConfig cfg_;
  std::unique_ptr<nn::VitEncoder> encoder_;
  std::unique_ptr<nn::Llm> llm_;
  std::unique_ptr<nn::DitGenerator> generator_;
};

}  // namespace braid::train
