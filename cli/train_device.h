// The compute device of `braid train --single-process` (docs/GPU.md step 3):
// for a job with `device: cuda`, a CUDA context on device 0 (the first
// visible: pick one with CUDA_VISIBLE_DEVICES) and its backend in the job's
// `precision` (fp32, or bf16 autocast), whose errors the trainer collects
// after every step.
#pragma once

#include <memory>

#include "common/base/status.h"
#include "common/config/job_config.h"
#include "common/train/trainer.h"

namespace braid::cli {

class TrainDevice {
 public:
  virtual ~TrainDevice() = default;
  // Points `opt` at this device (backend and error check).
  virtual void Attach(train::TrainOptions* opt) = 0;
  virtual std::string Describe() const = 0;
};

// Null for `device: cpu`. FAILED_PRECONDITION naming the device when the job
// asks for CUDA and this machine or build has none.
StatusOr<std::unique_ptr<TrainDevice>> OpenTrainDevice(const JobConfig& cfg);

}  // namespace braid::cli
