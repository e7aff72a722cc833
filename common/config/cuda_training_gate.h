// THE one check of which layouts the distributed runtime trains on a device
// (docs/GPU.md step 3): the module runner runs a rank on a device backend for
// data-parallel layouts (tp = pp = 1 on every module), with host-staged
// boundary transfers and DP all-reduces. Tensor and pipeline parallelism on
// a device (their collectives and hidden states in device memory) are not
// wired yet and are refused with UNIMPLEMENTED. The orchestrator calls
// CheckDeviceJobLayouts at submission; the module runner calls
// RefuseTpPpOnDevice for its own module when it is given a device.
#pragma once

#include <string>

#include "common/base/status.h"
#include "common/config/job_config.h"

namespace braid {

// OK on the cpu or for tp = pp = 1; UNIMPLEMENTED naming the module otherwise.
inline Status RefuseTpPpOnDevice(const std::string& device, const std::string& module, const ModuleParallel& p) {
  if (device == "cpu" || (p.tp == 1 && p.pp == 1)) return Status::Ok();
  return Status::Unimplemented("parallel." + module + ": tp/pp on device: " + device + " is not implemented (tp " +
                               std::to_string(p.tp) + ", pp " + std::to_string(p.pp) +
                               "); the distributed runtime trains data-parallel layouts (tp 1, pp 1 on every "
                               "module) on a device (docs/GPU.md step 3)");
}

// Every module of a job on its device. `parallel: auto` is refused on a
// device: the planner may choose tp or pp.
inline Status CheckDeviceJobLayouts(const JobConfig& cfg) {
  if (cfg.device == "cpu") return Status::Ok();
  if (cfg.parallel.auto_layout)
    return Status::Unimplemented("parallel: auto with device: " + cfg.device +
                                 ": the planner may choose tp/pp, which the distributed runtime does not run on a "
                                 "device yet; give a data-parallel layout (tp 1, pp 1 on every module)");
  RETURN_IF_ERROR(RefuseTpPpOnDevice(cfg.device, "encoder", cfg.parallel.encoder));
  RETURN_IF_ERROR(RefuseTpPpOnDevice(cfg.device, "llm", cfg.parallel.llm));
  return RefuseTpPpOnDevice(cfg.device, "generator", cfg.parallel.generator);
}

}  // namespace braid
