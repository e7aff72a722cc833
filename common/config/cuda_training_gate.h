// THE one place that refuses `device: cuda` jobs while the runtime has no
// CUDA training path (docs/GPU.md step 3: backends and storage). The
// orchestrator (at submission, once workers of the job's device exist) and
// `braid train` call it. Remove this file and its two calls when the module
// runner trains on CUDA.
#pragma once

#include "common/base/status.h"
#include "common/config/job_config.h"

namespace braid {

inline Status RefuseCudaUntilTheTrainingPathIsWired(const JobConfig& cfg) {
  if (cfg.device != "cuda") return Status::Ok();
  return Status::Unimplemented(
      "device: cuda: the CUDA training path is not wired into the runtime yet (docs/GPU.md step 3)");
}

}  // namespace braid
