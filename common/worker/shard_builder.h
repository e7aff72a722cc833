// Cuts one step's samples into each rank's share, following a routing plan.
// Pure: the data service runs it per worker stream; tests run it directly.
#pragma once

#include <vector>

#include "common/data/sample.h"
#include "common/reorder/step_plan_types.h"
#include "common/worker/rank_data.h"

namespace braid::worker {

// Metadata the planner needs, from built samples.
std::vector<reorder::SampleMeta> MetasOf(const std::vector<Sample>& samples);

// `samples` are the step's samples in plan order (the same order as
// plan.microbatches' SampleUnits). Returns one RankMicrobatch per microbatch
// for (role, rank). Generation keys are HashKey(seed, step, sample id, k),
// exactly as the single-process trainer draws them.
std::vector<RankMicrobatch> BuildRankShards(const std::vector<Sample>& samples, const reorder::StepPlan& plan,
                                            Role role, int rank, uint64_t seed);

}  // namespace braid::worker
