// The orchestrator's Prometheus metrics (docs/METRICS.md, "Training" and
// "Control plane"): fed by the Orchestrator's observers (each committed
// step, each lost worker) and by a periodic look at its tables.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

#include "common/config/job_config.h"
#include "common/plan/cluster_spec.h"
#include "services/orchestrator/orchestrator.h"

namespace braid::orchestrator {

// Model FLOPs of one training step (forward + backward = 3 x forward) of
// `images` encoder images, `tokens` packed LLM tokens over `samples` samples
// and `gen_targets` generator targets, by the planner's FLOP model
// (common/plan/model_cost.h). The LLM's attention term uses the mean sample
// length, so packed batches of unequal lengths are slightly under-counted.
double StepModelFlops(const ModelConfig& model, int64_t images, int64_t tokens, int64_t samples, int64_t gen_targets);

class OrchestratorMetrics {
 public:
  // `cluster` gives the peak FLOP/s per device for braid_mfu_ratio (each
  // worker is one device). `registry` outlives this.
  OrchestratorMetrics(prometheus::Registry& registry, const plan::ClusterSpec& cluster);

  void OnCommit(const Job& job, const JobConfig& cfg, const StepCommit& commit);
  void OnWorkerLost(const WorkerInfo& w);
  // braid_workers{role,state} and braid_jobs{state} from the tables now.
  void UpdateTables(Orchestrator& orch);

  // Options with the observers above set (the caller keeps this alive).
  void Observe(OrchestratorOptions* opt);

 private:
  double peak_flops_;
  prometheus::Family<prometheus::Counter>& steps_;
  prometheus::Family<prometheus::Gauge>& loss_;
  prometheus::Family<prometheus::Gauge>& text_loss_;
  prometheus::Family<prometheus::Gauge>& gen_loss_;
  prometheus::Family<prometheus::Counter>& tokens_;
  prometheus::Family<prometheus::Counter>& samples_;
  prometheus::Family<prometheus::Histogram>& step_seconds_;
  prometheus::Family<prometheus::Gauge>& bubble_;
  prometheus::Family<prometheus::Gauge>& imbalance_;
  prometheus::Family<prometheus::Gauge>& mfu_;
  prometheus::Family<prometheus::Gauge>& workers_;
  prometheus::Family<prometheus::Counter>& workers_lost_;
  prometheus::Family<prometheus::Gauge>& jobs_;
};

}  // namespace braid::orchestrator
