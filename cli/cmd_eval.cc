// braid eval --checkpoint DIR [--json]: held-out caption accuracy on the
// Fashion-MNIST test split and the generator's test diffusion loss.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/base/threads.h"
#include "common/checkpoint/checkpoint.h"
#include "common/config/job_config.h"
#include "common/data/image_io.h"
#include "common/train/evaluator.h"
#include "common/train/multimodal_model.h"

namespace braid::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
struct EvalArgs {
  std::string checkpoint;
  std::string init_job;
  bool json_out = false;
  int64_t limit = 0;
  int threads = 0;
  std::string samples_out;
};

// Resolves a run dir or checkpoints dir to its newest good step dir.
StatusOr<std::string> ResolveCheckpoint(const std::string& path) {
  if (fs::exists(fs::path(path) / "manifest.json")) return path;
  for (const auto& dir : {fs::path(path) / "checkpoints", fs::path(path)}) {
    if (fs::is_directory(dir)) {
      auto latest = FindLatestGoodCheckpoint(dir.string());
      if (latest.ok()) return latest;
    }
  }
  return Status::NotFound(path + ": no checkpoint (manifest.json) found");
}

int RunEval(const EvalArgs& a) {
  SetComputeThreads(a.threads);
  JobConfig cfg;
  std::unique_ptr<train::MultimodalModel> model;
  if (!a.init_job.empty()) {
    auto c = LoadJobConfig(a.init_job);
    if (!c.ok()) {
      std::fprintf(stderr, "%s\n", c.status().message().c_str());
      return kExitBadInput;
    }
    cfg = *c;
    model = std::make_unique<train::MultimodalModel>(cfg.model);
    model->Init(cfg.seed);
  } else {
    auto dir = ResolveCheckpoint(a.checkpoint);
    if (!dir.ok()) {
      std::fprintf(stderr, "braid eval: %s\n", dir.status().message().c_str());
      return kExitBadInput;
    }
    std::ifstream mf(fs::path(*dir) / "manifest.json");
    json manifest = json::parse(mf, nullptr, false);
    if (manifest.is_discarded() || !manifest.contains("extra") || !manifest["extra"].contains("job_yaml")) {
      std::fprintf(stderr, "braid eval: %s/manifest.json: missing extra.job_yaml\n", dir->c_str());
      return kExitBadInput;
    }
    auto c = ParseJobConfig(manifest["extra"]["job_yaml"].get<std::string>(), *dir + "/manifest.json");
    if (!c.ok()) {
      std::fprintf(stderr, "braid eval: %s\n", c.status().message().c_str());
      return kExitBadInput;
    }
    cfg = *c;
    model = std::make_unique<train::MultimodalModel>(cfg.model);
    std::vector<ModuleState> mods = {{"encoder", &model->encoder().params(), nullptr},
                                     {"llm", &model->llm().params(), nullptr},
                                     {"generator", &model->generator().params(), nullptr}};
    auto loaded = LoadCheckpoint(*dir, mods);
    if (!loaded.ok()) {
      std::fprintf(stderr, "braid eval: %s\n", loaded.status().message().c_str());
      return ExitCodeFor(loaded.status());
    }
    if (!a.json_out) std::fprintf(stderr, "evaluating %s\n", dir->c_str());
  }
  auto fm = LoadFashionMnist(cfg.data.fashion_mnist);
  if (!fm.ok()) {
    std::fprintf(stderr, "braid eval: %s\n", fm.status().message().c_str());
    return ExitCodeFor(fm.status());
  }
  train::EvalOptions opt;
  opt.limit = a.limit;
  opt.progress = !a.json_out;
  train::EvalResult r = train::Evaluate(*model, *fm, cfg, opt);
  if (!a.samples_out.empty()) {
    Status s = train::WriteClassSamples(*model, cfg, a.samples_out);
    if (!s.ok()) std::fprintf(stderr, "braid eval: %s\n", s.message().c_str());
  }
  if (a.json_out) {
    json j = {{"caption_accuracy", r.caption_accuracy}, {"caption_total", r.caption_total},
              {"caption_correct", r.caption_correct},   {"gen_loss", r.gen_loss},
              {"gen_total", r.gen_total},               {"seconds", r.seconds}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    for (const auto& e : r.examples) std::printf("  %s\n", e.c_str());
    std::printf("caption_accuracy %.4f (%lld/%lld test images)\ngen_loss %.4f (%lld test targets)\n",
                r.caption_accuracy, (long long)r.caption_correct, (long long)r.caption_total, r.gen_loss,
                (long long)r.gen_total);
  }
  return kExitOk;
}
}  // namespace

void RegisterEval(CLI::App& app, std::function<int()>* run) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on the Fashion-MNIST test split");
  auto* ck = cmd->add_option("--checkpoint", args->checkpoint,
                             "checkpoint step dir, or a run dir (its newest good checkpoint)");
  auto* init = cmd->add_option("--init", args->init_job, "evaluate the untrained initial weights of this job spec");
  ck->excludes(init);
  cmd->add_flag("--json", args->json_out, "print one JSON object");
  cmd->add_option("--limit", args->limit, "use only the first N test images (default: all 10,000)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", args->threads, "compute threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--samples", args->samples_out, "write a PNG with one generated image per class");
  cmd->callback([run, args, ck, init]() {
    *run = [args, ck, init]() {
      if (ck->count() == 0 && init->count() == 0) {
        std::fprintf(stderr, "braid eval: one of --checkpoint or --init is required\n");
        return kExitBadInput;
      }
      return RunEval(*args);
    };
  });
}

}  // namespace braid::cli
