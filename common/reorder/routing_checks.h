// Structural validation of a StepPlan against the batch it was planned from.
// Policy-independent: any routing policy's output must pass it.
#pragma once

#include <vector>

#include "common/base/status.h"
#include "common/reorder/step_plan_types.h"

namespace braid::reorder {

// Ok, or InvalidArgument describing the first violation of:
//  - layout DP sizes >= 1; metas have unique ids and non-negative counts;
//  - every sample of `samples` appears exactly once in the step (and no
//    other sample does);
//  - every image (sample, 0..num_images-1) and every generation target
//    appears exactly once, in the microbatch that holds its sample;
//  - all ranks are in range of `layout`;
//  - an image's / gen target's llm_rank equals its sample's llm_rank;
//  - per microbatch, image uids and gen uids are each dense 0..n-1 and unique;
//  - global_samples, global_text_targets, global_gen_targets equal the sums
//    over `samples`.
Status ValidatePlan(const StepPlan& plan, const std::vector<SampleMeta>& samples,
                    const Layout& layout);

}  // namespace braid::reorder
