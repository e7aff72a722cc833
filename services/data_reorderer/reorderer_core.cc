#include "services/data_reorderer/reorderer_core.h"

#include "common/reorder/in_order_router.h"
#include "common/train/step_plan.h"
#include "common/worker/shard_builder.h"

namespace braid::reorderer {

class EpochSamplerHolder {
 public:
  EpochSamplerHolder(uint64_t seed, int64_t n) : sampler(seed, n) {}
  train::EpochSampler sampler;
};

StatusOr<int64_t> ReordererCore::OpenJob(const std::string& job_id, const std::string& job_yaml) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(job_id);
    if (it != jobs_.end()) return it->second->data->epoch_samples();
  }
  ASSIGN_OR_RETURN(JobConfig cfg, ParseJobConfig(job_yaml, "job " + job_id));
  auto job = std::make_shared<OpenedJob>();
  job->cfg = cfg;
  if (!cfg.parallel.auto_layout)
    job->layout = {cfg.parallel.encoder.dp, cfg.parallel.llm.dp, cfg.parallel.generator.dp};
  ASSIGN_OR_RETURN(job->data, train::TrainingData::Load(cfg));
  const int64_t n = job->data->epoch_samples();
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.emplace(job_id, std::move(job));
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

StatusOr<std::vector<worker::RankMicrobatch>> StepSharder::Shards(int64_t step, worker::Role role, int rank) {
  const JobConfig& cfg = job_->cfg;
  std::vector<Sample> samples;
  for (int64_t id : sampler_->sampler.StepIds(step, cfg.train.global_batch)) {
    ASSIGN_OR_RETURN(Sample s, job_->data->Make(id));
    samples.push_back(std::move(s));
  }
  const reorder::StepPlan plan =
      reorder::PlanInOrder(step, worker::MetasOf(samples), cfg.train.microbatches, job_->layout);
  return worker::BuildRankShards(samples, plan, role, rank, cfg.seed);
}

}  // namespace braid::reorderer
