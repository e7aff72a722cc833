#include "services/orchestrator/orchestrator_metrics.h"

#include <cctype>
#include <string>

#include "common/plan/model_cost.h"

namespace braid::orchestrator {
namespace {

std::string LowerCase(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

double StepModelFlops(const ModelConfig& model, int64_t images, int64_t tokens, int64_t samples, int64_t gen_targets) {
  const plan::ModelSpec m = plan::ModelSpecFromConfig(model);
  const plan::TransformerSpec& enc = m.module[plan::kEncoder];
  const plan::TransformerSpec& llm = m.module[plan::kLlm];
  const plan::TransformerSpec& gen = m.module[plan::kGenerator];
  double fwd = double(images) * plan::UnitForwardFlops(enc, double(enc.tokens_per_unit)) +
               double(gen_targets) * plan::UnitForwardFlops(gen, double(gen.tokens_per_unit));
  if (tokens > 0 && samples > 0) {
    const double mean_len = double(tokens) / double(samples);
    fwd += double(samples) * plan::UnitForwardFlops(llm, mean_len);
  }
  return 3.0 * fwd;
}

OrchestratorMetrics::OrchestratorMetrics(prometheus::Registry& r, const plan::ClusterSpec& cluster)
    : peak_flops_(cluster.peak_flops),
      steps_(prometheus::BuildCounter().Name("braid_train_steps_total").Help("Committed training steps").Register(r)),
      loss_(prometheus::BuildGauge()
                .Name("braid_train_loss")
                .Help("Total loss (text + generation) of the last committed step")
                .Register(r)),
      text_loss_(prometheus::BuildGauge()
                     .Name("braid_train_text_loss")
                     .Help("LLM next-token cross-entropy of the last committed step, per target token")
                     .Register(r)),
      gen_loss_(prometheus::BuildGauge()
                    .Name("braid_train_gen_loss")
                    .Help("Generator loss of the last committed step, per generation target")
                    .Register(r)),
      tokens_(prometheus::BuildCounter().Name("braid_tokens_total").Help("Packed LLM tokens trained on").Register(r)),
      samples_(prometheus::BuildCounter().Name("braid_samples_total").Help("Samples trained on").Register(r)),
      step_seconds_(prometheus::BuildHistogram()
                        .Name("braid_step_seconds")
                        .Help("Wall-clock period of each committed step (previous step's end to this one's)")
                        .Register(r)),
      bubble_(prometheus::BuildGauge()
                  .Name("braid_pipeline_bubble_ratio")
                  .Help("Last step: share of the ranks' step time spent waiting for a peer still computing")
                  .Register(r)),
      imbalance_(prometheus::BuildGauge()
                     .Name("braid_dp_imbalance_ratio")
                     .Help("Last step: the most loaded DP rank's planned load over the mean, per module")
                     .Register(r)),
      mfu_(prometheus::BuildGauge()
               .Name("braid_mfu_ratio")
               .Help("Last step: model FLOPs per second over the peak of the job's devices (--cluster)")
               .Register(r)),
      workers_(prometheus::BuildGauge()
                   .Name("braid_workers")
                   .Help("Registered workers by role and state (idle, busy)")
                   .Register(r)),
      workers_lost_(prometheus::BuildCounter()
                        .Name("braid_workers_lost_total")
                        .Help("Workers declared dead (no heartbeat within the timeout), by role")
                        .Register(r)),
      jobs_(prometheus::BuildGauge().Name("braid_jobs").Help("Jobs by state").Register(r)) {
  // At zero from the start, so that increase() sees the first loss.
  for (Role role : kRoles) workers_lost_.Add({{"role", RoleName(role)}});
}

void OrchestratorMetrics::OnCommit(const Job& job, const JobConfig& cfg, const StepCommit& c) {
  const prometheus::Labels l = {{"job", job.id}};
  const StepMetrics& m = c.metrics;
  steps_.Add(l).Increment();
  loss_.Add(l).Set(m.loss);
  text_loss_.Add(l).Set(m.text_loss);
  gen_loss_.Add(l).Set(m.gen_loss);
  tokens_.Add(l).Increment(double(m.tokens));
  samples_.Add(l).Increment(double(m.samples));
  // 1 ms .. ~65 s, doubling.
  static const prometheus::Histogram::BucketBoundaries kBuckets = [] {
    prometheus::Histogram::BucketBoundaries b;
    for (double x = 0.001; x < 70; x *= 2) b.push_back(x);
    return b;
  }();
  step_seconds_.Add(l, kBuckets).Observe(m.step_seconds);
  bubble_.Add(l).Set(m.bubble_ratio);
  if (m.imbalance.size() == 3)
    for (size_t i = 0; i < kRoles.size(); ++i)  // the plan's order: encoder, LLM, generator
      imbalance_.Add({{"job", job.id}, {"module", RoleName(kRoles[i])}}).Set(m.imbalance[i]);
  int devices = 0;
  for (Role role : kRoles) devices += job.layout.of(role).world();
  const double flops = StepModelFlops(cfg.model, m.images, m.tokens, m.samples, m.gen_targets);
  if (m.step_seconds > 0 && peak_flops_ > 0 && devices > 0)
    mfu_.Add(l).Set(flops / (m.step_seconds * peak_flops_ * devices));
}

void OrchestratorMetrics::OnWorkerLost(const WorkerInfo& w) {
  workers_lost_.Add({{"role", RoleName(w.reg.role)}}).Increment();
}

void OrchestratorMetrics::UpdateTables(Orchestrator& orch) {
  for (Role role : kRoles) {
    const int busy = orch.workers().CountBusy(role);
    const size_t idle = orch.workers().Idle(role).size();
    workers_.Add({{"role", RoleName(role)}, {"state", "idle"}}).Set(double(idle));
    workers_.Add({{"role", RoleName(role)}, {"state", "busy"}}).Set(double(busy));
  }
  int counts[7] = {};  // by JobState value (1..6)
  for (const Job& j : orch.ListJobs()) ++counts[int(j.state)];
  for (JobState s : {JobState::kPending, JobState::kRunning, JobState::kRecovering, JobState::kSucceeded,
                     JobState::kFailed, JobState::kCancelled})
    jobs_.Add({{"state", LowerCase(JobStateName(s))}}).Set(counts[int(s)]);
}

void OrchestratorMetrics::Observe(OrchestratorOptions* opt) {
  opt->on_commit = [this](const Job& job, const JobConfig& cfg, const StepCommit& c) { OnCommit(job, cfg, c); };
  opt->on_worker_lost = [this](const WorkerInfo& w) { OnWorkerLost(w); };
}

}  // namespace braid::orchestrator
