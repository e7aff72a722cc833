#include "services/data_reorderer/reorderer_core.h"

#include "common/base/clock.h"
#include "common/reorder/in_order_router.h"
#include "common/reorder/cost_profile.h"
#include "common/reorder/step_planner.h"
#include "common/train/step_plan.h"
#include "common/worker/shard_builder.h"

namespace braid::reorderer {

class EpochSamplerHolder {
 public:
  EpochSamplerHolder(uint64_t seed, int64_t n) : sampler(seed, n) {}
  train::EpochSampler sampler;
};

namespace {

// The FLOP cost model's view of the job's three transformers.
reorder::ModelShapes ShapesOf(const ModelConfig& m) {
  reorder::ModelShapes s;
  s.encoder = {m.encoder.width, m.encoder.layers, int64_t(m.encoder.mlp_ratio) * m.encoder.width, false};
  s.llm = {m.llm.width, m.llm.layers, m.llm.mlp_hidden, true};
  s.generator = {m.generator.width, m.generator.layers, int64_t(m.generator.mlp_ratio) * m.generator.width, false};
  const int g = m.generator.image_size / m.generator.patch;
  s.generator_tokens = int64_t(g) * g;
  return s;
}

}  // namespace

StatusOr<int64_t> ReordererCore::OpenJob(const std::string& job_id, const std::string& job_yaml) {
  ASSIGN_OR_RETURN(JobConfig cfg, ParseJobConfig(job_yaml, "job " + job_id));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(job_id);
    if (it != jobs_.end() && it->second->cfg == cfg) return it->second->data->epoch_samples();
  }
  auto job = std::make_shared<OpenedJob>();
  job->id = job_id;
  job->cfg = cfg;
  job->on_plan = on_plan_;
  {
    ASSIGN_OR_RETURN(job->policy, reorder::PolicyForDataReorder(cfg.data.reorder));
    job->plan_options.microbatches = cfg.train.microbatches;
    if (!cfg.parallel.auto_layout)
      job->plan_options.layout = {cfg.parallel.encoder.dp, cfg.parallel.llm.dp, cfg.parallel.generator.dp};
    job->plan_options.cost = reorder::FlopCostModel(ShapesOf(cfg.model));
    if (!cfg.data.reorder_profile.empty()) {
      StatusOr<reorder::CostModel> c = reorder::LoadCostProfile(cfg.data.reorder_profile);
      if (!c.ok()) return Status::InvalidArgument("data.reorder_profile: " + c.status().message());
      job->plan_options.cost = *c;
    }
  }
  ASSIGN_OR_RETURN(job->data, train::TrainingData::Load(cfg));
  job->image_tokens = int32_t(job->data->mix().patches_per_image);
  const int64_t n = job->data->epoch_samples();
  std::lock_guard<std::mutex> lock(mu_);
  jobs_[job_id] = std::move(job);
  return n;
}

void ReordererCore::CloseJob(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.erase(job_id);
}

StatusOr<std::shared_ptr<const OpenedJob>> ReordererCore::Find(const std::string& job_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return Status::NotFound("job " + job_id + " is not open on this reorderer");
  return it->second;
}

StepSharder::StepSharder(std::shared_ptr<const OpenedJob> job)
    : job_(std::move(job)),
      sampler_(std::make_unique<EpochSamplerHolder>(job_->cfg.seed, job_->data->epoch_samples())) {}

StepSharder::~StepSharder() = default;

StatusOr<std::shared_ptr<const PlannedStep>> PlannedStepCache::Get(
    int64_t step, const std::function<StatusOr<std::shared_ptr<const PlannedStep>>()>& make) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = steps_.find(step); it != steps_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const PlannedStep> made, make());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = steps_.emplace(step, std::move(made)).first;
  std::shared_ptr<const PlannedStep> out = it->second;  // eviction below may drop it (a lagging stream's old step)
  while (steps_.size() > kKeep) steps_.erase(steps_.begin());
  return out;
}

StatusOr<std::vector<worker::RankMicrobatch>> StepSharder::Shards(int64_t step, worker::Role role, int rank) {
  const JobConfig& cfg = job_->cfg;
  ASSIGN_OR_RETURN(std::shared_ptr<const PlannedStep> planned,
                   job_->planned.Get(step, [&]() -> StatusOr<std::shared_ptr<const PlannedStep>> {
                     const double t0 = NowSeconds();
                     auto p = std::make_shared<PlannedStep>();
                     for (int64_t id : sampler_->sampler.StepIds(step, cfg.train.global_batch)) {
                       ASSIGN_OR_RETURN(Sample s, job_->data->Make(id));
                       p->samples.push_back(std::move(s));
                     }
                     p->plan = reorder::PlanStep(step, worker::MetasOf(p->samples), job_->policy,
                                                 job_->plan_options, job_->image_tokens);
                     if (job_->on_plan) job_->on_plan(job_->id, NowSeconds() - t0);
                     return std::shared_ptr<const PlannedStep>(std::move(p));
                   }));
  return worker::BuildRankShards(planned->samples, planned->plan, role, rank, cfg.seed);
}

}  // namespace braid::reorderer
