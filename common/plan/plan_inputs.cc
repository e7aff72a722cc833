#include "common/plan/plan_inputs.h"

#include "common/config/job_config.h"
#include "common/reorder/cost_profile.h"

namespace braid::plan {

StatusOr<PlanContext> MakePlanContext(const JobConfig& job, const ClusterSpec& cluster, const PlanInputs& in) {
  PlanContext ctx;
  ctx.model = ModelSpecFromConfig(job.model);
  ctx.cluster = cluster;
  ctx.batch = in.batch;
  const int32_t image_tokens = int32_t(ctx.model.module[kEncoder].tokens_per_unit);
  for (reorder::WorkSample& s : ctx.batch) s.image_tokens = image_tokens;
  ASSIGN_OR_RETURN(ctx.policy, reorder::PolicyForDataReorder(job.data.reorder));
  ctx.unit_seconds = FlopSecondsPerUnit(ctx.model, cluster);
  if (!in.profile.empty()) {
    StatusOr<reorder::CostProfile> p = reorder::LoadFullCostProfile(in.profile);
    if (!p.ok()) return Status::InvalidArgument("profile: " + p.status().message());
    ctx.unit_seconds = p->cost;
    for (double* c : {&ctx.unit_seconds.enc_linear, &ctx.unit_seconds.enc_attn, &ctx.unit_seconds.llm_linear,
                      &ctx.unit_seconds.llm_attn, &ctx.unit_seconds.gen_target})
      *c *= p->runtime_overhead;
    ctx.backward_ratio = p->cost.backward_ratio;
    // braid's pools (cli/pools_config.cc): encoder and generator workers
    // compute on one thread, the LLM's on every core it can get.
    if (cluster.shared_compute) ctx.rank_rate[kLlm] = p->speedup[kLlm];
  }
  return ctx;
}

}  // namespace braid::plan
