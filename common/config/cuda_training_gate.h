// THE one place that refuses `device: cuda` jobs while the distributed
// runtime has no CUDA training path (docs/GPU.md step 3: the module runner
// does not create CUDA ranks yet). The orchestrator calls it at submission,
// once workers of the job's device exist. `braid train --single-process`
// trains on CUDA (cli/train_device.h). Remove this file and its call when the
// module runner trains on CUDA.
#pragma once

#include "common/base/status.h"
#include "common/config/job_config.h"

namespace braid {

inline Status RefuseCudaUntilTheTrainingPathIsWired(const JobConfig& cfg) {
  if (cfg.device != "cuda") return Status::Ok();
  return Status::Unimplemented(
      "device: cuda: the distributed runtime does not train on CUDA yet (docs/GPU.md step 3); "
      "`braid train --single-process` does");
}

}  // namespace braid
