// The single-process trainer (`braid train --single-process`): all three
// modules in one process, deterministic for a seed; writes the run directory
// of the contract (metrics.jsonl, ledger.jsonl, checkpoints/, job.yaml). It is
// the numerical reference for every distributed layout.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/base/status.h"
#include "common/config/job_config.h"
#include "common/ops/backend.h"

namespace braid::train {

struct TrainOptions {
  std::string run_dir;       // created if missing; must be empty unless resume
  bool resume = false;       // continue from the newest good checkpoint in run_dir
  bool progress = true;      // progress lines on stderr
  // Called once the inputs are validated and the run directory exists.
  std::function<void(const std::string& run_dir)> on_start;
  // Compute device (docs/GPU.md step 3). When set, the modules' params,
  // gradients and optimizer state move into this backend's memory after
  // initialisation and every op of the step runs there; checkpoints and the
  // reported losses come back to the host. `check_device` (optional) returns
  // the device's first error since the last call; it runs after every step
  // and fails the run with it.
  const ops::Backend* backend = nullptr;
  std::function<Status()> check_device;
};

struct TrainSummary {
  int64_t start_step = 0;  // first step run (> 0 when resumed)
  int64_t steps_run = 0;
  double first_loss = 0, last_loss = 0;
  double first_gen_loss = 0, last_gen_loss = 0;
  double seconds = 0;
  std::string last_checkpoint;
};

StatusOr<TrainSummary> TrainSingleProcess(const JobConfig& cfg, const TrainOptions& opt);

}  // namespace braid::train
