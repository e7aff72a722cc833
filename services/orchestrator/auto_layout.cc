#include "services/orchestrator/auto_layout.h"

#include <algorithm>
#include <thread>

#include "common/base/check.h"
#include "common/plan/plan_inputs.h"
#include "common/plan/planner.h"
#include "common/train/work_samples.h"
#include "local_cpu_spec.h"  // generated from deploy/clusters/local-cpu.yaml

namespace braid::orchestrator {

plan::ClusterSpec LocalHostCluster() {
  // The shipped spec parses (tests/plan_cluster_spec_test.cc loads it).
  StatusOr<plan::ClusterSpec> c = plan::ParseClusterSpec(kLocalCpuSpecYaml, "deploy/clusters/local-cpu.yaml");
  BRAID_CHECK(c.ok());
  c->name = "local-host";
  c->devices_per_node = int(std::max(1u, std::thread::hardware_concurrency()));
  c->devices = c->devices_per_node;
  return *c;
}

StatusOr<Layout> PlanAutoLayout(const JobConfig& cfg, const std::array<int, 3>& workers,
                                const plan::ClusterSpec& cluster) {
  plan::PlanInputs in;
  ASSIGN_OR_RETURN(std::unique_ptr<train::TrainingData> data, train::TrainingData::Load(cfg));
  ASSIGN_OR_RETURN(in.batch, train::StepWorkSamples(cfg, *data, 0));
  in.profile = cfg.data.reorder_profile;
  ASSIGN_OR_RETURN(plan::PlanContext ctx, plan::MakePlanContext(cfg, cluster, in));
  ctx.runtime_only = true;
  for (int m = 0; m < 3; ++m) ctx.max_ranks[m] = std::max(1, workers[m]);
  ctx.microbatch_choices = {cfg.train.microbatches};
  ASSIGN_OR_RETURN(plan::PlanResult r, plan::PlanLayouts(ctx));
  Layout l;
  for (Role role : kRoles) {
    const plan::Layout& p = r.plan.layout[RoleIndex(role)];
    l.of(role) = {p.dp, p.tp, role == Role::kLlm ? p.pp : 1, {}};
  }
  if (l.llm.pp > 1)  // the planner's layer split, uneven when that simulated faster
    for (int64_t n : r.plan.llm_stage_layers) l.llm.layers.push_back(int(n));
  return l;
}

}  // namespace braid::orchestrator
