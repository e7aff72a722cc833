// A step's routing plan from a reordering policy: the bridge between the
// policies (policies.h, over WorkSample shapes) and the runtime's StepPlan
// (uids, ranks and global counts per microbatch).
#pragma once

#include <cstdint>
#include <vector>

#include "common/reorder/policies.h"
#include "common/reorder/step_plan_types.h"

namespace braid::reorder {

// Plans step `step` of `metas` (the global batch, in sampling order) with
// `policy`: microbatches in the policy's run order, image and generation
// uids dense per microbatch in sample order, global counts over the step.
// `image_tokens` is the LLM rows one image takes (the encoder's patches).
// Fills the plan's solve_ms and imbalance. Passes ValidatePlan for every
// policy; kSequential gives PlanInOrder's routing. Preconditions as PlanBatch.
StepPlan PlanStep(int64_t step, const std::vector<SampleMeta>& metas, Policy policy, const PlanOptions& opt,
                  int32_t image_tokens);

}  // namespace braid::reorder
