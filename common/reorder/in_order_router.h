// The simple in-order routing policy: contiguous microbatches, and within a
// microbatch each module's units spread contiguously and evenly by count.
#pragma once

#include <cstdint>
#include <vector>

#include "common/reorder/step_plan_types.h"

namespace braid::reorder {

// Rank (0..ranks-1) of unit `i` of `n` when n units are split contiguously
// and as evenly as possible by count over `ranks`: the first n % ranks ranks
// get one more. E.g. n = 7, ranks = 3 -> 0,0,0,1,1,2,2. Ranks past n get none.
int32_t ContiguousRank(int64_t i, int64_t n, int ranks);

// Plans step `step` from the global batch `samples` (in order):
//  - microbatch m holds samples [m*B/M, (m+1)*B/M) in order (M divides B);
//  - within a microbatch, independently per module: samples over llm ranks,
//    images (in microbatch order across samples; a sample's images may
//    straddle encoder ranks) over encoder ranks, generation targets over
//    generator ranks, each by ContiguousRank;
//  - images and gen targets carry their sample's llm_rank; uids are dense in
//    microbatch order;
//  - global counts are sums over the whole step.
// Preconditions (BRAID_CHECK; callers validate input): microbatches >= 1 and
// divides samples.size(), every DP size >= 1, counts in metas >= 0.
// The same routing as PlanStep with Policy::kSequential, which it calls.
StepPlan PlanInOrder(int64_t step, const std::vector<SampleMeta>& samples, int microbatches,
                     const Layout& layout);

}  // namespace braid::reorder
