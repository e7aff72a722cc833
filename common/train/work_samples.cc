#include "common/train/work_samples.h"

#include <algorithm>

#include "common/train/step_plan.h"

namespace braid::train {

StatusOr<std::vector<reorder::WorkSample>> StepWorkSamples(const JobConfig& cfg, const TrainingData& data,
                                                           int64_t step) {
  EpochSampler sampler(cfg.seed, data.epoch_samples());
  const int32_t image_tokens = int32_t(data.mix().patches_per_image);
  std::vector<reorder::WorkSample> batch;
  for (int64_t id : sampler.StepIds(step, cfg.train.global_batch)) {
    ASSIGN_OR_RETURN(Sample s, data.Make(id));
    reorder::WorkSample w;
    w.id = s.id;
    w.images = int32_t(s.images.size());
    w.image_tokens = image_tokens;
    w.text_tokens = std::max<int64_t>(0, int64_t(s.tokens.size()) - int64_t(w.images) * image_tokens);
    w.gen_images = int32_t(s.gen_targets.size());
    batch.push_back(w);
  }
  return batch;
}

}  // namespace braid::train
