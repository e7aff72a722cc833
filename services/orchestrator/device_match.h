// Device matching (docs/GPU.md step 7): a worker registers the device it
// computes on (capabilities.device: "cpu" or "cuda", and for cuda its
// device_index); a job's modules go only to workers of the job's `device`.
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "common/base/status.h"
#include "services/orchestrator/core_types.h"

namespace braid::orchestrator {

// A registration's device: "" (a worker older than the field) reads "cpu".
std::string NormalizeDevice(const std::string& device);

// InvalidArgument "capabilities.device: must be cpu or cuda, got 'tpu'", or
// "capabilities.device_index: must be non-negative, got -1".
Status ValidateWorkerDevice(const std::string& device, int device_index);

// FailedPrecondition when workers of `role` are registered (`elsewhere` on
// other devices) but none (`on_device`) on the job's `device`:
//   "device: cuda: the llm module needs cuda workers and none is registered
//    (2 llm workers on cpu); start the llm pool with `device: cuda` (worker
//    flag --device cuda)"
// OK when some worker of the role is on `device`, or none of the role is
// registered yet (the job waits for them, like any job).
Status CheckDeviceAvailable(const std::string& device, Role role, int on_device, int elsewhere);

}  // namespace braid::orchestrator
