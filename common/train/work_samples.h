// A job's own global batch as the reorderer's and planner's WorkSamples:
// the sample shapes of step `step` of the job's data (the same ids the
// reorderer plans for that step).
#pragma once

#include <cstdint>
#include <vector>

#include "common/base/status.h"
#include "common/reorder/workload.h"
#include "common/train/training_data.h"

namespace braid::train {

// A sample's tokens already hold its images' slots; the text part is the
// rest. image_tokens = the job's patches per image.
StatusOr<std::vector<reorder::WorkSample>> StepWorkSamples(const JobConfig& cfg, const TrainingData& data,
                                                           int64_t step);

}  // namespace braid::train
