#include "common/train/work_samples.h"

#include "common/train/step_plan.h"

namespace braid::train {

StatusOr<std::vector<reorder::WorkSample>> StepWorkSamples(const JobConfig& cfg, const TrainingData& data,
                                                           int64_t step) {
  EpochSampler sampler(cfg.seed, data.epoch_samples());
  const int32_t image_tokens = int32_t(data.mix().patches_per_image);
  std::vector<reorder::WorkSample> batch;
  for (int64_t id : sampler.StepIds(step, cfg.train.global_batch)) {
    ASSIGN_OR_RETURN(Sample s, data.Make(id));
    batch.push_back(reorder::WorkSampleFromPacked(s.id, int32_t(s.images.size()), int64_t(s.tokens.size()),
                                                  int32_t(s.gen_targets.size()), image_tokens));
  }
  return batch;
}

}  // namespace braid::train
