#include "services/orchestrator/auto_layout.h"

#include <thread>

#include "common/plan/plan_inputs.h"
#include "common/plan/planner.h"
#include "common/train/step_plan.h"
#include "common/train/training_data.h"

namespace braid::orchestrator {

plan::ClusterSpec LocalHostCluster() {
  plan::ClusterSpec c;
  c.name = "local-host";
  c.device = "CPU core";
  c.nodes = 1;
  c.devices_per_node = int(std::max(1u, std::thread::hardware_concurrency()));
  c.devices = c.devices_per_node;
  // deploy/clusters/local-cpu.yaml (measured on the development VM).
  c.peak_flops = 0.154e12;
  c.memory_bytes = 23.54 * double(1ll << 30);
  c.memory_bandwidth = 21.5e9;
  c.intra_node_bandwidth = c.inter_node_bandwidth = 10.8e9;
  c.intra_node_latency = c.inter_node_latency = 40e-6;
  c.compute_efficiency = c.comm_efficiency = 1.0;
  c.shared_compute = true;
  return c;
}

namespace {

// The job's first global batch as the planner sees it. A sample's tokens
// already hold its images' slots; the text part is the rest.
StatusOr<std::vector<reorder::WorkSample>> FirstBatch(const JobConfig& cfg) {
  ASSIGN_OR_RETURN(std::unique_ptr<train::TrainingData> data, train::TrainingData::Load(cfg));
  train::EpochSampler sampler(cfg.seed, data->epoch_samples());
  const int32_t image_tokens = int32_t(data->mix().patches_per_image);
  std::vector<reorder::WorkSample> batch;
  for (int64_t id : sampler.StepIds(0, cfg.train.global_batch)) {
    ASSIGN_OR_RETURN(Sample s, data->Make(id));
    reorder::WorkSample w;
    w.id = s.id;
    w.images = int32_t(s.images.size());
    w.image_tokens = image_tokens;
    w.text_tokens = std::max<int64_t>(0, int64_t(s.tokens.size()) - int64_t(w.images) * image_tokens);
    w.gen_images = int32_t(s.gen_targets.size());
    batch.push_back(w);
  }
  return batch;
}

}  // namespace

StatusOr<Layout> PlanAutoLayout(const JobConfig& cfg, const std::array<int, 3>& workers,
                                const plan::ClusterSpec& cluster) {
  plan::PlanInputs in;
  ASSIGN_OR_RETURN(in.batch, FirstBatch(cfg));
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
