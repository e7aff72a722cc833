#include "services/orchestrator/auto_layout.h"

#include <thread>

#include "common/plan/plan_inputs.h"
#include "common/plan/planner.h"
#include "common/train/work_samples.h"

namespace braid::orchestrator {

plan::ClusterSpec LocalHostCluster() {
  plan::ClusterSpec c;
  c.name = "local-host";
  c.device = "CPU core";
  c.nodes = 1;
  c.devices_per_node = int(std::max(1u, std::thread::hardware_concurrency()));
  c.devices = c.devices_per_node;
  // deploy/clusters/local-cpu.yaml (measured on the development VM).
  c.peak_flops = 0.153e12;
  c.memory_bytes = 23.54 * double(1ll << 30);
  c.memory_bandwidth = 20.9e9;
  c.intra_node_bandwidth = c.inter_node_bandwidth = 10.4e9;
  c.intra_node_latency = c.inter_node_latency = 18e-6;
  c.compute_efficiency = c.comm_efficiency = 1.0;
  c.shared_compute = true;
  return c;
}

StatusOr<Layout> PlanAutoLayout(const JobConfig& cfg, const std::array<int, 3>& workers,
                                const plan::ClusterSpec& cluster) {
  plan::PlanInputs in;
  ASSIGN_OR_RETURN(std::unique_ptr<train::TrainingData> data, train::TrainingData::Load(cfg));
  ASSIGN_OR_RETURN(in.batch, train::StepWorkSamples(cfg, *data, 0));
  in.profile = cfg.data.reorder_profile;
  ASSIGN_OR_RETURN(plan::PlanContext ctx, plan::MakePlanContext(cfg, cluster, in));
  ctx.runtime_only = true;
  for (int m = 0; m < 3; ++m) ctx.max_dp[m] = std::max(1, workers[m]);
  ctx.microbatch_choices = {cfg.train.microbatches};
  ASSIGN_OR_RETURN(plan::PlanResult r, plan::PlanLayouts(ctx));
  Layout l;
  l.encoder.dp = r.plan.layout[plan::kEncoder].dp;
  l.llm.dp = r.plan.layout[plan::kLlm].dp;
  l.generator.dp = r.plan.layout[plan::kGenerator].dp;
  return l;
}

}  // namespace braid::orchestrator
