// braid train JOB.yaml --single-process: all modules in one process.
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "cli/commands.h"
#include "common/base/clock.h"
#include "cli/train_device.h"
#include "common/config/job_config.h"
#include "common/train/trainer.h"

namespace braid::cli {
namespace fs = std::filesystem;

namespace {
struct TrainArgs {
  std::string job;
  bool single_process = false;
  std::string run_dir;
  bool resume = false;
  int steps = 0;
  int threads = -1;
  bool quiet = false;
};

int RunTrain(const TrainArgs& a) {
  if (!a.single_process) {
    std::fprintf(stderr,
                 "braid train: only --single-process is available in this build; use `braid run` for the "
                 "disaggregated runtime once it lands\n");
    return kExitBadInput;
  }
  auto cfg = LoadJobConfig(a.job);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.status().message().c_str());
    return kExitBadInput;
  }
  if (a.steps > 0) cfg->train.steps = a.steps;
  if (a.threads >= 0) cfg->train.threads = a.threads;
  if (Status s = ValidateJobConfig(*cfg); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return kExitBadInput;
  }
  auto device = OpenTrainDevice(*cfg);
  if (!device.ok()) {
    std::fprintf(stderr, "braid train: %s\n", device.status().message().c_str());
    return kExitBadInput;  // as `braid up` / `braid run` for a worker's missing device
  }
  std::string run_dir = a.run_dir.empty() ? (fs::path(cfg->checkpoint.dir) / (cfg->name + "-" + LocalTimestamp(double(std::time(nullptr))))).string() : a.run_dir;
  if (!a.resume && fs::exists(run_dir) && !fs::is_empty(run_dir)) {
    std::fprintf(stderr, "braid train: run directory %s is not empty (use --resume to continue it)\n",
                 run_dir.c_str());
    return kExitBadInput;
  }
  train::TrainOptions opt;
  opt.on_start = [](const std::string& dir) {
    std::printf("RUN_DIR %s\n", dir.c_str());
    std::fflush(stdout);
  };
  opt.run_dir = run_dir;
  opt.resume = a.resume;
  opt.progress = !a.quiet;
  if (*device) {
    (*device)->Attach(&opt);
    if (!a.quiet) std::fprintf(stderr, "braid train: computing on %s\n", (*device)->Describe().c_str());
  }
  auto summary = train::TrainSingleProcess(*cfg, opt);
  if (!summary.ok()) {
    std::fprintf(stderr, "braid train: %s\n", summary.status().ToString().c_str());
    return ExitCodeFor(summary.status());
  }
  if (summary->steps_run == 0) {
    std::printf("nothing to do: the run is already at step %lld of %d\ncheckpoint %s\n",
                (long long)summary->start_step, cfg->train.steps, summary->last_checkpoint.c_str());
    return kExitOk;
  }
  std::printf("trained %lld steps in %.1f s: loss %.4f -> %.4f, gen_loss %.4f -> %.4f\ncheckpoint %s\n",
              (long long)summary->steps_run, summary->seconds, summary->first_loss, summary->last_loss,
              summary->first_gen_loss, summary->last_gen_loss, summary->last_checkpoint.c_str());
  return kExitOk;
}
}  // namespace

void RegisterTrain(CLI::App& app, std::function<int()>* run) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train a job; --single-process runs all modules in this process");
  cmd->add_option("job", args->job, "job spec (YAML), e.g. examples/fashion-mllm.yaml")->required();
  cmd->add_flag("--single-process", args->single_process, "run encoder, LLM and generator in this process");
  cmd->add_option("--run-dir", args->run_dir, "run directory (default: <checkpoint.dir>/<name>-<timestamp>)");
  cmd->add_flag("--resume", args->resume, "continue the run in --run-dir from its newest good checkpoint");
  cmd->add_option("--steps", args->steps, "override train.steps")->check(CLI::PositiveNumber);
  cmd->add_option("--threads", args->threads, "override train.threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("-q,--quiet", args->quiet, "no progress lines");
  cmd->callback([run, args]() { *run = [args]() { return RunTrain(*args); }; });
}

}  // namespace braid::cli
