// The layout planner (docs/PLANNER.md "Planner"): for a device budget,
// how many devices the encoder, the LLM and the generator each get, their
// (TP, PP, DP) and the microbatch count, minimising the simulated step time
// under the memory limit; and the Megatron-style baseline optimised over its
// own space (one shared TP and DP, the encoder on the LLM's first PP stage,
// the generator on its last), for the speedup. Pure.
#pragma once

#include <cstdint>

#include "common/base/status.h"
#include "common/plan/step_model.h"

namespace braid::plan {

struct PlanResult {
  Candidate plan;
  Prediction predicted;
  Candidate baseline;
  Prediction baseline_predicted;
  double speedup = 0;      // baseline step time / plan step time
  double solve_ms = 0;     // wall time of PlanLayouts
  int64_t estimated = 0;   // candidates scored by the analytic estimate
  int64_t simulated = 0;   // candidates simulated
};

// Search (both spaces): microbatch counts from ctx.microbatch_choices; TP
// degrees that divide the module's heads, width and MLP (at most a node's
// devices, non-powers of two included); PP from 1 to the LLM's layers (even
// splits); DP up to the samples per microbatch (the LLM) or the units per
// microbatch (encoder, generator). Every candidate is first scored by an
// analytic 1F1B estimate; the best kTopK of each space are simulated
// (BuildStep + Simulate, with the real reorder plan) and the fastest whose
// memory fits wins. With runtime_only, only layouts the runtime executes (no
// generator TP, no PP outside the LLM) with dp * tp * pp <= max_ranks. When
// the baseline simulates faster than every disaggregated plan (tiny
// budgets), the plan is the baseline's layout (colocated = true), so the plan
// is never slower than the baseline. FailedPrecondition when nothing fits
// (the message says what was closest).
StatusOr<PlanResult> PlanLayouts(const PlanContext& ctx);

// The default microbatch choices: divisors of n from 1 to 64.
std::vector<int> DefaultMicrobatchChoices(int64_t n);

}  // namespace braid::plan
