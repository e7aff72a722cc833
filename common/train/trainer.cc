#include "common/train/trainer.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/threads.h"
#include "common/checkpoint/checkpoint.h"
#include "common/checkpoint/durable_file.h"
#include "common/optim/adamw.h"
#include "common/optim/from_config.h"
#include "common/optim/grad_clip.h"
#include "common/optim/lr_schedule.h"
#include "common/train/multimodal_model.h"
#include "common/train/step_plan.h"
#include "common/train/training_data.h"

namespace braid::train {
namespace fs = std::filesystem;
using nlohmann::json;


StatusOr<TrainSummary> TrainSingleProcess(const JobConfig& cfg, const TrainOptions& opt) {
  Stopwatch total;
  SetComputeThreads(cfg.train.threads);
  ASSIGN_OR_RETURN(std::unique_ptr<TrainingData> data, TrainingData::Load(cfg));

  MultimodalModel model(cfg.model);
  model.Init(cfg.seed);
  const AdamWConfig acfg = AdamWConfigFor(cfg.train);
  AdamW opt_enc(model.encoder().params().size(), acfg);
  AdamW opt_llm(model.llm().params().size(), acfg);
  AdamW opt_gen(model.generator().params().size(), acfg);
  const std::vector<ModuleState> modules = {{"encoder", &model.encoder().params(), &opt_enc},
                                            {"llm", &model.llm().params(), &opt_llm},
                                            {"generator", &model.generator().params(), &opt_gen}};
  std::optional<ops::ScopedBackend> device_scope;
  if (opt.backend != nullptr) {
    device_scope.emplace(*opt.backend);
    for (const ModuleState& ms : modules) {
      ms.params->MoveToDevice();
      ms.optim->MoveToDevice(*ms.params);
    }
    if (opt.check_device) RETURN_IF_ERROR(opt.check_device());
  }

  const fs::path run(opt.run_dir);
  const fs::path ckpt_dir = run / "checkpoints";
  std::error_code ec;
  fs::create_directories(ckpt_dir, ec);
  if (ec) return Status::Unavailable("cannot create run directory " + ckpt_dir.string() + ": " + ec.message());
  if (opt.on_start) opt.on_start(run.string());

  int64_t start = 0;
  std::string summary_checkpoint;
  if (opt.resume) {
    std::vector<std::string> skipped;
    auto latest = FindLatestGoodCheckpoint(ckpt_dir.string(), &skipped);
    for (const auto& s : skipped) LOG_WARN("skipping corrupt checkpoint: %s", s.c_str());
    if (latest.ok()) {
      ASSIGN_OR_RETURN(json extra, LoadCheckpoint(*latest, modules));
      start = extra.value("next_step", int64_t{0});
      summary_checkpoint = *latest;
      LOG_INFO("resuming from %s at step %lld", latest->c_str(), (long long)start);
      if (extra.value("job_yaml", std::string()) != JobConfigToYaml(cfg))
        LOG_WARN("the job spec differs from the one %s was trained with; training continues under the new spec "
                 "(a changed train.steps also changes the learning-rate schedule)", latest->c_str());
    }
  }
  RETURN_IF_ERROR(RewindJsonl((run / "metrics.jsonl").string(), start));
  RETURN_IF_ERROR(RewindJsonl((run / "ledger.jsonl").string(), start));
  {
    std::ofstream y(run / "job.yaml", std::ios::trunc);
    y << JobConfigToYaml(cfg);
    if (!y) return Status::Unavailable("cannot write " + (run / "job.yaml").string());
  }
  std::ofstream metrics(run / "metrics.jsonl", std::ios::app);
  std::ofstream ledger(run / "ledger.jsonl", std::ios::app);
  if (!metrics || !ledger) return Status::Unavailable("cannot open metrics/ledger in " + run.string());

  const LrSchedule sched = LrScheduleFor(cfg.train);

  EpochSampler sampler(cfg.seed, data->epoch_samples());
  const int64_t pixels = int64_t(cfg.model.encoder.image_size) * cfg.model.encoder.image_size;
  TrainSummary summary;
  summary.start_step = start;
  summary.last_checkpoint = summary_checkpoint;
  if (opt.progress)
    LOG_INFO("training %s: %lld params (encoder %lld, llm %lld, generator %lld), steps %d, batch %d x %d microbatches",
             cfg.name.c_str(), (long long)model.num_params(), (long long)model.encoder().params().size(),
             (long long)model.llm().params().size(), (long long)model.generator().params().size(), cfg.train.steps,
             cfg.train.global_batch, cfg.train.microbatches);
  Stopwatch train_clock;
  double window_tokens = 0, window_seconds = 0;
  enum { kTextSum = 0, kGenSum = 1, kNorms = 2 };
  StepScalars scalars(kNorms + int(modules.size()));
  for (int64_t step = start; step < cfg.train.steps; ++step) {
    Stopwatch sw;
    const std::vector<int64_t> ids = sampler.StepIds(step, cfg.train.global_batch);
    std::vector<Sample> samples(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      ASSIGN_OR_RETURN(samples[i], data->Make(ids[i]));
    }
    // Global counts for loss normalisation (known from the plan).
    int64_t text_total = 0, gen_total = 0, images = 0;
    for (const auto& s : samples) {
      for (int32_t t : s.targets) text_total += t >= 0;
      gen_total += int64_t(s.gen_targets.size());
      images += int64_t(s.images.size());
    }
    const float text_scale = text_total > 0 ? 1.0f / float(text_total) : 0.0f;
    const float gen_scale = gen_total > 0 ? 1.0f / float(gen_total) : 0.0f;

    model.ZeroGrads();
    // The step's loss sums and grad norms stay in the thread's memory (on a
    // device: no wait per microbatch) and come back once, for the report.
    scalars.Zero();
    int64_t tokens = 0;
    const size_t per = samples.size() / size_t(cfg.train.microbatches);
    for (int m = 0; m < cfg.train.microbatches; ++m) {
      std::vector<const Sample*> part;
      for (size_t i = size_t(m) * per; i < size_t(m + 1) * per; ++i) part.push_back(&samples[i]);
      Microbatch mb = PackMicrobatch(part, step, cfg.seed, pixels, cfg.model.generator.gen_slots);
      model.StepInto(mb, text_scale, gen_scale, true, scalars.at(kTextSum), scalars.at(kGenSum));
      tokens += mb.tokens();
    }
    const float lr = LearningRateAt(sched, int(step));
    for (size_t i = 0; i < modules.size(); ++i) {
      const auto& ms = modules[i];
      ClipGradNormInto(ms.params->grads_data(), ms.params->size(), cfg.train.grad_clip,
                       scalars.at(kNorms + int(i)));
      ms.optim->Step(*ms.params, lr);
    }
    if (opt.check_device) RETURN_IF_ERROR(opt.check_device());
    const std::vector<double> sv = scalars.Read();
    const double text_sum = sv[kTextSum], gen_sum = sv[kGenSum];
    json norms;
    for (size_t i = 0; i < modules.size(); ++i) norms[modules[i].name] = sv[size_t(kNorms) + i];
    const double text_loss = text_total > 0 ? text_sum / double(text_total) : 0.0;
    const double gen_loss = gen_total > 0 ? gen_sum / double(gen_total) : 0.0;
    const double loss = text_loss + gen_loss;
    const double secs = sw.Seconds();
    json mline = {{"step", step},          {"loss", loss},         {"text_loss", text_loss},
                  {"gen_loss", gen_loss},  {"tokens", tokens},     {"samples", int64_t(ids.size())},
                  {"images", images},      {"gen_targets", gen_total}, {"text_tokens", text_total},
                  {"lr", lr},              {"grad_norm", norms},   {"step_seconds", secs}};
    metrics << mline.dump() << "\n" << std::flush;
    // The ledger records each sample's own id (a manifest's "id", or the mixer's index).
    std::vector<int64_t> sample_ids;
    for (const auto& smp : samples) sample_ids.push_back(smp.id);
    ledger << json{{"step", step}, {"samples", sample_ids}}.dump() << "\n" << std::flush;
    if (!metrics || !ledger) return Status::Unavailable("cannot append to metrics/ledger in " + run.string());

    if (summary.steps_run == 0) {
      summary.first_loss = loss;
      summary.first_gen_loss = gen_loss;
    }
    summary.last_loss = loss;
    summary.last_gen_loss = gen_loss;
    ++summary.steps_run;
    window_tokens += double(tokens);
    window_seconds += secs;

    const bool last = step + 1 == cfg.train.steps;
    if (opt.progress && ((step + 1) % cfg.train.log_every == 0 || last || step == start)) {
      const double per_step = train_clock.Seconds() / double(step + 1 - start);
      LOG_INFO("step %lld/%d loss %.4f (text %.4f gen %.4f) lr %.2e | %.2f s/step %.0f tok/s | eta %s",
               (long long)step + 1, cfg.train.steps, loss, text_loss, gen_loss, lr, per_step,
               window_tokens / std::max(window_seconds, 1e-9), FormatDuration(per_step * double(cfg.train.steps - step - 1)).c_str());
      window_tokens = window_seconds = 0;
    }
    if ((step + 1) % cfg.checkpoint.every == 0 || last) {
      const json extra = CheckpointExtra(step + 1, JobConfigToYaml(cfg), cfg.seed, cfg.train.global_batch,
                                         {{"encoder", {{"dp", 1}, {"tp", 1}, {"pp", 1}}},
                                          {"llm", {{"dp", 1}, {"tp", 1}, {"pp", 1}}},
                                          {"generator", {{"dp", 1}, {"tp", 1}, {"pp", 1}}}});
      RETURN_IF_ERROR(SaveCheckpoint(ckpt_dir.string(), step + 1, modules, extra, cfg.checkpoint.keep));
      summary.last_checkpoint = (ckpt_dir / ("step-" + std::to_string(step + 1))).string();
      if (opt.progress) LOG_INFO("checkpoint %s", summary.last_checkpoint.c_str());
    }
  }
  summary.seconds = total.Seconds();
  return summary;
}

}  // namespace braid::train
