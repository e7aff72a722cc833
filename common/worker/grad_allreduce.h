// The DP sum of a device rank's gradients (docs/NCCL.md, "DP all-reduce in
// the runtime (as built)"): a strategy the rank chooses once at setup. The
// runner calls Start for each gradient bucket as soon as the step's last
// backward has finished it (in the same order on every rank), then for the
// parameters outside any bucket, then Finish.
//   GlooHostStaged (here): Start only queues the range; Finish copies the
//     gradients to the host, all-reduces the queued ranges over the rank's
//     DpGroup (Gloo) and copies them back. The fallback, and the path of any
//     device without NCCL (the guarded fake device).
//   NcclDevice (nccl_grad_allreduce.h, CUDA builds only): Start all-reduces
//     the range in place on a communication stream that first waits (an
//     event) for the compute stream's work so far, so the sum runs while
//     the backward of earlier layers goes on; Finish makes the compute
//     stream wait (an event) for the sums. No host copy, no host wait.
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
  // Starts (or queues) the DP sum of pb's gradients in `range` (in the
  // calling thread's device memory); the work enqueued on the compute
  // stream so far has finished writing them.
  virtual Status Start(ParamBuffer& pb, const ParamBuffer::Bucket& range) = 0;
  // Completes every started sum: when it returns, later work on the rank's
  // compute stream sees them.
  virtual Status Finish(ParamBuffer& pb) = 0;
  // Start for each range in order, then Finish.
  Status Run(ParamBuffer& pb, const std::vector<ParamBuffer::Bucket>& ranges) {
    Status started;
    for (const ParamBuffer::Bucket& r : ranges) {
      Status s = Start(pb, r);
      if (started.ok()) started = s;
    }
    Status finished = Finish(pb);
    RETURN_IF_ERROR(started);
    return finished;
  }
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
