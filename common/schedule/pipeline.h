// The cross-module pipeline of one training step as a pure function: given
// each microbatch's stage costs (encoder, LLM, generator; forward and
// backward), the makespan of braid's 1F1B schedule, a lower bound on the
// makespan of any microbatch order, and an ordering that minimises it. The
// planner issue grows this into a full simulator.
//
// The schedule is the runtime's (common/worker/module_runner.cc): microbatch
// m flows encoder F(m) -> LLM F(m) -> generator F+B(m) -> LLM B(m) ->
// encoder B(m). Each stage runs its own operations one at a time in a fixed
// 1F1B order: `w` warm-up forwards (encoder 2, LLM 1, generator 0, capped at
// the number of microbatches), then one forward and one backward
// alternately, then the remaining backwards; the generator's forward and
// backward of a microbatch are one operation. An operation starts when its
// stage is free and its input is ready (transfers take no time).
#pragma once

#include <vector>

namespace braid::schedule {

struct StageCost {
  double fwd = 0, bwd = 0;  // seconds (or any consistent unit), >= 0
};

// One microbatch's cost on each module: for a module with several DP
// ranks, the most loaded rank's (the rank everyone waits for).
struct MicrobatchCost {
  StageCost encoder, llm, generator;
};

// Makespan of the step with microbatches run in the given order.
double OneFOneBMakespan(const std::vector<MicrobatchCost>& mbs);

// A lower bound on OneFOneBMakespan over every order of `mbs`
// (docs/REORDER.md gives the formula). 0 for no microbatches.
double MakespanLowerBound(const std::vector<MicrobatchCost>& mbs);

// A permutation p (run mbs[p[0]] first, ...) with a small makespan:
// exhaustive for up to 7 microbatches, otherwise a Johnson-rule start
// improved by local search (swaps and insertions) until no move helps.
// Deterministic; never worse than the identity order.
std::vector<int> OrderMicrobatches(const std::vector<MicrobatchCost>& mbs);

}  // namespace braid::schedule
