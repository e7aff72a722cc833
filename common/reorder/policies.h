// Reordering policies for one global batch (docs/REORDER.md): which
// microbatch each sample goes to, in which order the microbatches run, and
// which DP rank of each module takes each unit of work (an image on the
// encoder, a sample on the LLM, a generation target on the generator).
// Pure and deterministic for a given seed; the set of samples never changes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/reorder/cost_model.h"
#include "common/reorder/step_plan_types.h"
#include "common/reorder/workload.h"

namespace braid::reorder {

enum class Policy {
  kSequential,       // contiguous microbatches; units spread contiguously by count
  kRandom,           // a seeded shuffle, then sequential
  kLptPerSample,     // per-sample LPT with equal sample counts per rank, every module
                     // (Megatron-Bridge's DistTrain port): a sample's images stay together
  kBalanced,         // microbatches balanced by cost; units balanced per module at their own
                     // granularity (image / sample / target) by BalancedPartition
  kBalancedOrdered,  // kBalanced, then the microbatch order that minimises the 1F1B makespan
};
const std::vector<Policy>& AllPolicies();
std::string PolicyName(Policy p);  // "sequential", "random", "lpt_per_sample", "balanced", "balanced+ordered"
StatusOr<Policy> ParsePolicy(const std::string& name);
// The policy of a job's `data.reorder`: "none" is sequential, the rest by name.
StatusOr<Policy> PolicyForDataReorder(const std::string& data_reorder);

// The plan of one global batch. Indices refer to the batch vector.
struct BatchPlan {
  struct Microbatch {
    std::vector<int> samples;                        // batch indices, in microbatch order
    std::vector<int32_t> llm_rank;                   // per sample of `samples`
    std::vector<std::vector<int32_t>> encoder_rank;  // per sample, per image
    std::vector<std::vector<int32_t>> generator_rank;  // per sample, per generation target
  };
  std::vector<Microbatch> microbatches;  // in run order
};

struct PlanOptions {
  int microbatches = 1;
  Layout layout;
  CostModel cost;
  uint64_t seed = 0;           // kRandom's shuffle
  int64_t llm_token_cap = 0;   // per LLM rank and microbatch; 0 = none
};

// Preconditions: 1 <= microbatches <= batch size; DP sizes >= 1 (callers
// validate; BRAID_CHECK otherwise).
BatchPlan PlanBatch(const std::vector<WorkSample>& batch, Policy policy, const PlanOptions& opt);

// Quality of a plan, per module (0 encoder, 1 LLM, 2 generator).
struct PlanStats {
  double imbalance[3] = {1, 1, 1};           // max rank load / mean rank load, mean over microbatches
  double imbalance_vs_bound[3] = {1, 1, 1};  // max rank load / PartitionLowerBound, mean over microbatches
  double makespan = 0;                       // OneFOneBMakespan of the plan's microbatches, in order
  double makespan_bound = 0;                 // MakespanLowerBound of the same microbatches
};
PlanStats EvaluatePlan(const std::vector<WorkSample>& batch, const BatchPlan& plan, const PlanOptions& opt);
// Only PlanStats::imbalance (what the runtime reports every step), without
// the partition and makespan bounds.
void PlanImbalance(const std::vector<WorkSample>& batch, const BatchPlan& plan, const PlanOptions& opt,
                   double imbalance[3]);

// Every sample exactly once, ranks in range, shapes consistent (for tests
// and as a guard before a plan is used).
Status CheckBatchPlan(const std::vector<WorkSample>& batch, const BatchPlan& plan, const PlanOptions& opt);

}  // namespace braid::reorder
