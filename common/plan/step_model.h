// One training step of a candidate layout as the simulator's input
// (docs/PLANNER.md "Step model"): the global batch is planned by a
// reordering policy, each microbatch's most loaded rank of each module gives
// that stage's cost, divided by TP and split over the LLM's PP stages, plus
// TP, PP, boundary and DP communication and the optimizer. Also the
// Megatron-style baseline: one shared TP and DP, the encoder on the LLM's
// first PP stage and the generator on its last. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/plan/cluster_spec.h"
#include "common/plan/model_cost.h"
#include "common/plan/simulator.h"
#include "common/reorder/cost_model.h"
#include "common/reorder/policies.h"
#include "common/reorder/workload.h"

namespace braid::plan {

// What the planner plans for: the model, the cluster, one global batch and
// how a unit of work costs in seconds on one device.
struct PlanContext {
  ModelSpec model;
  ClusterSpec cluster;
  std::vector<reorder::WorkSample> batch;  // one global batch; image_tokens = the encoder's tokens per image
  // Forward seconds of one unit on one device (encoder image, LLM sample,
  // generator target): FlopSecondsPerUnit (FLOPs / (peak x efficiency)) or
  // a `braid profile` of the job's model on this backend.
  reorder::CostModel unit_seconds;
  double backward_ratio = 2.0;  // backward / forward
  MemoryOptions memory;
  double memory_headroom = 0.9;  // a plan may use this fraction of a device's memory
  // Restrictions: what braid's runtime executes (TP for the encoder and the
  // LLM, PP for the LLM only; the generator tp = pp = 1) and how many
  // workers each pool has: dp * tp * pp <= max_ranks (0 = no limit beyond
  // the device budget).
  bool runtime_only = false;
  int max_ranks[kModules] = {0, 0, 0};
  std::vector<int> microbatch_choices;  // empty: the divisors of the batch size from 1 to 64
  reorder::Policy policy = reorder::Policy::kBalancedOrdered;  // braid's; the baseline runs sequential
  // Shared compute (ClusterSpec::shared_compute): the cores one rank of each
  // module computes on (braid's pools: encoder and generator 1 thread, the LLM
  // every core it can get).
  double rank_rate[kModules] = {1, 1, 1};
};

// FLOP-based unit costs: UnitForwardFlops / (peak_flops x compute_efficiency)
// (the LLM's as a*T + b*T^2, exact for the quadratic FLOP count).
reorder::CostModel FlopSecondsPerUnit(const ModelSpec& m, const ClusterSpec& c);

// The in-order (sequential) split of a microbatch of `per_mb` samples over
// dp ranks, as Megatron's data loader does it: rank r holds the samples
// [lo, hi) of the microbatch.
struct SampleRange {
  int64_t lo = 0, hi = 0;
};
inline SampleRange InOrderRankSamples(int64_t per_mb, int dp, int r) {
  return {(int64_t(r) * per_mb + dp - 1) / dp, (int64_t(r + 1) * per_mb + dp - 1) / dp};
}

struct Candidate {
  Layout layout[kModules];               // per module; the baseline repeats the shared tp / dp
  std::vector<int64_t> llm_stage_layers;  // per LLM PP stage (sums to the LLM's layers)
  int microbatches = 1;
  bool recompute = false;                // full activation recomputation everywhere
  bool colocated = false;                // the Megatron-style baseline layout
  int64_t Devices() const;               // braid: the three modules' sum; baseline: tp x pp x dp
};

struct StepModel {
  SimInput sim;
  double model_flops = 0;                   // 3 x forward FLOPs of the whole batch (MFU numerator)
  double memory_bytes[kModules] = {0, 0, 0};  // peak per device over the module's stages (baseline: per stage
                                              // holding the module)
  int first_stage[kModules] = {0, 0, 0};     // the module's first stage in sim.stages (baseline: the one it is on)
  int stage_count[kModules] = {0, 0, 0};
};

// The step of `cand` on `ctx`: InvalidArgument if the candidate is not a
// valid layout of the model (CheckLayout), its stage layers do not sum up,
// the microbatches do not divide the batch, or a module has more DP ranks
// than units of work per microbatch would need (more LLM ranks than samples
// per microbatch). Memory is reported, not checked (the planner checks it).
StatusOr<StepModel> BuildStep(const PlanContext& ctx, const Candidate& cand);

struct Prediction {
  double step_seconds = 0;
  double mfu = 0;              // model_flops / (step_seconds x devices x peak_flops)
  double bubble_fraction = 0;  // the simulator's
  double utilisation[kModules] = {0, 0, 0};  // busy time / step time of the module's busiest stage
  double memory_bytes[kModules] = {0, 0, 0};
  int64_t devices = 0;
};

// BuildStep, Simulate and the derived numbers. `sim`, when given, receives
// the simulation (for traces).
StatusOr<Prediction> Predict(const PlanContext& ctx, const Candidate& cand, SimResult* sim = nullptr,
                             StepModel* step = nullptr);

}  // namespace braid::plan
