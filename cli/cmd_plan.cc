// `braid plan`: for a job and a cluster, the device count and (TP, PP, DP)
// of each module plus the microbatch count that minimise the simulated step
// time, next to the Megatron-style baseline and the speedup over it
// (docs/PLANNER.md).
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/config/job_config.h"
#include "common/plan/cluster_spec.h"
#include "common/plan/plan_inputs.h"
#include "common/plan/planner.h"
#include "common/train/work_samples.h"

namespace braid::cli {
namespace {

struct PlanArgs {
  std::string job, cluster, samples_file, synthesize = "mixed", trace, profile;
  int64_t count = 0;
  uint64_t seed = 1;
  int64_t devices = 0;
  int microbatches = 0;
  bool json = false, runtime_only = false, job_data = false;
  int64_t step = 0;
  std::string evaluate;  // "E/L/G": predict this runtime layout instead of searching
};

// "3/2/1" -> DP sizes; false when malformed.
// "E/L/G": each module's DP size, optionally followed by tT (TP) and pP
// (PP), e.g. "1t2/2t2p2/1". False on anything else.
bool ParseLayoutArg(const std::string& s, plan::Layout out[3]) {
  size_t i = 0;
  auto number = [&](int* v) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    *v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && *v < 100000) *v = *v * 10 + (s[i++] - '0');
    return *v >= 1;
  };
  for (int m = 0; m < 3; ++m) {
    out[m] = plan::Layout{};
    if (m > 0 && (i >= s.size() || s[i++] != '/')) return false;
    if (!number(&out[m].dp)) return false;
    if (i < s.size() && s[i] == 't' && (++i, !number(&out[m].tp))) return false;
    if (i < s.size() && s[i] == 'p' && (++i, !number(&out[m].pp))) return false;
  }
  return i == s.size();
}

nlohmann::json LayoutJson(const plan::Candidate& c, const plan::Prediction& p) {
  nlohmann::json j;
  for (int m = 0; m < plan::kModules; ++m) {
    const plan::Layout& l = c.layout[m];
    const int64_t devices = c.colocated ? (m == plan::kLlm ? l.Devices() : int64_t(l.tp) * l.dp) : l.Devices();
    j[plan::ModuleName(m)] = {{"devices", devices}, {"tp", l.tp}, {"pp", m == plan::kLlm ? l.pp : 1}, {"dp", l.dp},
                              {"utilisation", p.utilisation[m]}, {"memory_gib", p.memory_bytes[m] / double(1ll << 30)}};
  }
  j["microbatches"] = c.microbatches;
  j["llm_stage_layers"] = c.llm_stage_layers;
  j["recompute"] = c.recompute;
  j["colocated"] = c.colocated;
  j["devices"] = c.Devices();
  return j;
}

nlohmann::json PredictedJson(const plan::Prediction& p) {
  return {{"step_seconds", p.step_seconds}, {"mfu", p.mfu}, {"bubble_fraction", p.bubble_fraction}};
}

std::string Describe(const plan::Candidate& c, int m) {
  const plan::Layout& l = c.layout[m];
  char buf[96];
  if (c.colocated && m != plan::kLlm)
    std::snprintf(buf, sizeof buf, "on llm %s stage (tp %d, dp %d)", m == plan::kEncoder ? "first" : "last", l.tp, l.dp);
  else
    std::snprintf(buf, sizeof buf, "%lld devices: tp %d pp %d dp %d", (long long)l.Devices(), l.tp, l.pp, l.dp);
  return buf;
}

void PrintTable(const PlanArgs& a, const plan::PlanResult& r, const plan::PlanContext& ctx) {
  std::printf("job %s on cluster %s: budget %lld devices, batch %zu samples (%s)\n", a.job.c_str(),
              ctx.cluster.name.c_str(), (long long)ctx.cluster.devices, ctx.batch.size(),
              a.samples_file.empty() ? ("synthesised " + a.synthesize).c_str() : a.samples_file.c_str());
  std::printf("%-10s %-34s %-34s\n", "", "braid plan", "baseline (Megatron-style)");
  for (int m = 0; m < plan::kModules; ++m)
    std::printf("%-10s %-34s %-34s\n", plan::ModuleName(m), Describe(r.plan, m).c_str(),
                Describe(r.baseline, m).c_str());
  std::printf("%-10s %-34d %-34d\n", "microbatch", r.plan.microbatches, r.baseline.microbatches);
  std::printf("%-10s %-34.4g %-34.4g\n", "step s", r.predicted.step_seconds, r.baseline_predicted.step_seconds);
  std::printf("%-10s %-34.3f %-34.3f\n", "MFU", r.predicted.mfu, r.baseline_predicted.mfu);
  std::printf("%-10s %-34.3f %-34.3f\n", "bubble", r.predicted.bubble_fraction, r.baseline_predicted.bubble_fraction);
  std::printf("speedup %.2fx; %lld candidates estimated, %lld simulated, %.1f ms\n", r.speedup,
              (long long)r.estimated, (long long)r.simulated, r.solve_ms);
  if (r.plan.colocated) std::printf("note: no disaggregated layout beat the baseline; the plan is the colocated layout\n");
}

// One global batch: the job's own (--job-data), a samples file, or synthesised.
StatusOr<std::vector<reorder::WorkSample>> LoadBatch(const PlanArgs& a, const JobConfig& job) {
  if (a.job_data) {
    ASSIGN_OR_RETURN(std::unique_ptr<train::TrainingData> data, train::TrainingData::Load(job));
    return train::StepWorkSamples(job, *data, a.step);
  }
  if (!a.samples_file.empty()) return ReadSamplesFile(a.samples_file);
  return reorder::SynthesizeWorkload(a.synthesize, a.count > 0 ? a.count : job.train.global_batch, a.seed);
}

// --trace: a simulated step as a Chrome/Perfetto trace. Exit code.
int WriteTrace(const std::string& path, const plan::StepModel& step, const plan::SimResult& sim) {
  std::ofstream out(path);
  out << plan::SimTraceJson(step.sim, sim);
  if (!out.good()) return std::fprintf(stderr, "braid plan: %s: cannot write\n", path.c_str()), kExitRuntime;
  return kExitOk;
}

// --evaluate: the simulator's prediction for one runtime layout with the
// job's microbatch count (the LLM's layers split as the runtime splits them).
int Evaluate(const PlanArgs& a, const plan::PlanContext& ctx, const JobConfig& job) {
  plan::Candidate c;
  if (!ParseLayoutArg(a.evaluate, c.layout))
    return std::fprintf(stderr,
                        "braid plan: --evaluate: expected E/L/G DP sizes like 3/2/1, each optionally with tT "
                        "(TP) and pP (PP) like 1t2/2t2p2/1, got '%s'\n",
                        a.evaluate.c_str()),
           kExitBadInput;
  if (c.layout[plan::kEncoder].pp != 1 || c.layout[plan::kGenerator].pp != 1)
    return std::fprintf(stderr, "braid plan: --evaluate: only the LLM is pipelined, got '%s'\n", a.evaluate.c_str()),
           kExitBadInput;
  c.microbatches = a.microbatches > 0 ? a.microbatches : job.train.microbatches;
  const int64_t layers = ctx.model.module[plan::kLlm].layers;
  if (c.layout[plan::kLlm].pp > layers)
    return std::fprintf(stderr, "braid plan: --evaluate: pp %d exceeds the LLM's %lld layers\n",
                        c.layout[plan::kLlm].pp, (long long)layers),
           kExitBadInput;
  c.llm_stage_layers = plan::SplitLayers(layers, c.layout[plan::kLlm].pp);
  plan::SimResult sim;
  plan::StepModel step;
  StatusOr<plan::Prediction> p = plan::Predict(ctx, c, &sim, &step);
  if (!p.ok()) return std::fprintf(stderr, "braid plan: --evaluate: %s\n", p.status().message().c_str()), kExitBadInput;
  if (!a.trace.empty())
    if (int rc = WriteTrace(a.trace, step, sim); rc != kExitOk) return rc;
  if (a.json) {
    nlohmann::json j = {{"layout", LayoutJson(c, *p)}, {"predicted", PredictedJson(*p)}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("layout %s, %d microbatches: predicted step %.4g s, MFU %.3f, bubble %.3f\n", a.evaluate.c_str(),
                c.microbatches, p->step_seconds, p->mfu, p->bubble_fraction);
  }
  return kExitOk;
}

int RunPlan(const PlanArgs& a) {
  StatusOr<JobConfig> job = LoadJobConfig(a.job);
  if (!job.ok()) return std::fprintf(stderr, "braid plan: %s\n", job.status().message().c_str()), kExitBadInput;
  StatusOr<plan::ClusterSpec> cluster = plan::LoadClusterSpec(a.cluster);
  if (!cluster.ok()) return std::fprintf(stderr, "braid plan: %s\n", cluster.status().message().c_str()), kExitBadInput;
  if (a.devices > 0) {
    if (a.devices > cluster->TotalDevices())
      return std::fprintf(stderr, "braid plan: --devices %lld exceeds the cluster's %lld\n", (long long)a.devices,
                          (long long)cluster->TotalDevices()),
             kExitBadInput;
    cluster->devices = a.devices;
  }
  plan::PlanInputs in;
  in.profile = a.profile;
  StatusOr<std::vector<reorder::WorkSample>> batch = LoadBatch(a, *job);
  if (!batch.ok()) return std::fprintf(stderr, "braid plan: %s\n", batch.status().message().c_str()), kExitBadInput;
  in.batch = std::move(*batch);
  StatusOr<plan::PlanContext> ctx = plan::MakePlanContext(*job, *cluster, in);
  if (!ctx.ok()) return std::fprintf(stderr, "braid plan: %s\n", ctx.status().message().c_str()), kExitBadInput;
  ctx->runtime_only = a.runtime_only;
  if (a.microbatches > 0) {
    if (int64_t(ctx->batch.size()) % a.microbatches != 0)
      return std::fprintf(stderr, "braid plan: --microbatches %d does not divide the batch of %zu samples\n",
                          a.microbatches, ctx->batch.size()),
             kExitBadInput;
    ctx->microbatch_choices = {a.microbatches};
  }
  if (!a.evaluate.empty()) return Evaluate(a, *ctx, *job);
  StatusOr<plan::PlanResult> r = plan::PlanLayouts(*ctx);
  if (!r.ok()) return std::fprintf(stderr, "braid plan: %s\n", r.status().message().c_str()), ExitCodeFor(r.status());
  if (!a.trace.empty()) {
    plan::SimResult sim;
    plan::StepModel step;
    StatusOr<plan::Prediction> p = plan::Predict(*ctx, r->plan, &sim, &step);
    if (!p.ok()) return std::fprintf(stderr, "braid plan: %s\n", p.status().message().c_str()), kExitRuntime;
    if (int rc = WriteTrace(a.trace, step, sim); rc != kExitOk) return rc;
  }
  if (a.json) {
    nlohmann::json j = {{"budget", ctx->cluster.devices},
                        {"cluster", ctx->cluster.name},
                        {"samples", ctx->batch.size()},
                        {"plan", LayoutJson(r->plan, r->predicted)},
                        {"predicted", PredictedJson(r->predicted)},
                        {"baseline", LayoutJson(r->baseline, r->baseline_predicted)},
                        {"speedup", r->speedup},
                        {"solve_ms", r->solve_ms},
                        {"estimated", r->estimated},
                        {"simulated", r->simulated}};
    j["baseline"]["predicted"] = PredictedJson(r->baseline_predicted);
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    PrintTable(a, *r, *ctx);
  }
  return kExitOk;
}

}  // namespace

void RegisterPlan(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<PlanArgs>();
  CLI::App* cmd = app.add_subcommand(
      "plan",
      "Plan how many devices the encoder, the LLM and the generator each get, their TP / PP / DP degrees and "
      "the microbatch count, minimising the simulated step time under the device budget and memory; report "
      "the Megatron-style baseline (one shared TP and DP, encoder and generator on the LLM's first and last "
      "pipeline stages) optimised over its own space, and the speedup (docs/PLANNER.md).");
  cmd->add_option("--job", a->job, "job spec (YAML): the model and the global batch size")->required();
  cmd->add_option("--cluster", a->cluster, "cluster spec (YAML, deploy/clusters/)")->required();
  auto* file = cmd->add_option("--samples", a->samples_file, "one global batch as a samples file (JSONL, as braid reorder)");
  auto* syn = cmd->add_option("--synthesize", a->synthesize, "a synthetic workload: llava, obelics, mmc4, laion, mixed")
                  ->capture_default_str();
  auto* own = cmd->add_flag("--job-data", a->job_data, "the job's own data: the global batch of step --step");
  file->excludes(syn);
  own->excludes(file)->excludes(syn);
  cmd->add_option("--step", a->step, "with --job-data: which step's batch")->check(CLI::NonNegativeNumber);
  cmd->add_option("--evaluate", a->evaluate,
                  "predict one runtime layout E/L/G (DP sizes, each optionally with tT and pP: 1t2/2t2p2/1) instead of planning");
  cmd->add_option("--count", a->count, "samples to synthesise (default: the job's train.global_batch)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", a->seed, "seed of the synthesiser")->capture_default_str();
  cmd->add_option("--devices", a->devices, "device budget (default: the cluster's `devices`)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--microbatches", a->microbatches, "fix the microbatch count (default: searched)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--profile", a->profile,
                  "unit costs from a `braid profile` YAML (seconds on one device) instead of FLOPs / (peak x efficiency)");
  cmd->add_flag("--runtime-only", a->runtime_only, "only layouts braid's runtime executes (no generator TP, PP only for the LLM)");
  cmd->add_option("--trace", a->trace, "write a Chrome/Perfetto trace of the plan's simulated step");
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([run, a]() { *run = [a]() { return RunPlan(*a); }; });
}

}  // namespace braid::cli
