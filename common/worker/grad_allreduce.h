// The DP sum of a device rank's gradients (docs/NCCL.md, "DP all-reduce in
// the runtime (as built)"): a strategy the rank chooses once at setup.
//   GlooHostStaged (here): a host copy of the gradients, all-reduced range
//     by range over the rank's DpGroup (Gloo), copied back. The fallback,
//     and the path of any device without NCCL (the guarded fake device).
//   NcclDevice (nccl_grad_allreduce.h, CUDA builds only): the device
//     gradients all-reduced in place on a communication stream ordered with
//     the compute stream by events; no host copy, no host wait.
// The host (cpu) ranks do not use this: they overlap Gloo with the backward
// (module_runner.cc).
#pragma once

#include <memory>
#include <vector>

#include "common/base/status.h"
#include "common/tensor/param_buffer.h"
#include "common/worker/transport.h"

namespace braid::worker {

class GradAllReduce {
 public:
  virtual ~GradAllReduce() = default;
  // "gloo-host-staged", "nccl-device" (logs, tests).
  virtual const char* name() const = 0;
  // Sums pb's gradients (in the calling thread's device memory) over the DP
  // group, range by range in this order (the same on every rank). When it
  // returns, later work on the rank's compute stream sees the sums.
  virtual Status Run(ParamBuffer& pb, const std::vector<ParamBuffer::Bucket>& ranges) = 0;
  // Asynchronous errors of the enqueued sums (OK if none, or none possible).
  // Called at op boundaries.
  virtual Status CheckAsync() { return Status::Ok(); }
  // Cancel or a failing rank: abandons the group so its peers fail instead
  // of waiting. Any thread; idempotent.
  virtual void Abort() {}
};

// The host-staged Gloo path over `dp` (not owned; outlives the strategy).
std::unique_ptr<GradAllReduce> MakeGlooHostStagedAllReduce(DpGroup* dp);

}  // namespace braid::worker
