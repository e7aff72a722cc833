// An owning cudaEvent_t (timing disabled: ordering only), for the
// compute/communication stream hand-offs of NcclComm (docs/NCCL.md).
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "common/base/status.h"
#include "common/ops/cuda/check.h"

namespace braid::comm {

class CudaEvent {
 public:
  CudaEvent() = default;
  // On the current device (events belong to the device current at creation).
  static StatusOr<CudaEvent> Create() {
    CudaEvent e;
    BRAID_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&e.event_, cudaEventDisableTiming));
    return e;
  }
  ~CudaEvent() {
    if (event_ != nullptr) cudaEventDestroy(event_);  // teardown: nothing to return the error to
  }
  CudaEvent(CudaEvent&& o) noexcept : event_(std::exchange(o.event_, nullptr)) {}
  CudaEvent& operator=(CudaEvent&& o) noexcept {
    std::swap(event_, o.event_);
    return *this;
  }
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;

  cudaEvent_t get() const { return event_; }
  // Marks the point reached by `stream`'s work enqueued so far.
  Status Record(cudaStream_t stream) {
    BRAID_CUDA_RETURN_IF_ERROR(cudaEventRecord(event_, stream));
    return Status::Ok();
  }
  // Makes `stream` wait (on the device, not the host) for the recorded point.
  Status MakeWait(cudaStream_t stream) const {
    BRAID_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream, event_, 0));
    return Status::Ok();
  }

 private:
  cudaEvent_t event_ = nullptr;
};

}  // namespace braid::comm
