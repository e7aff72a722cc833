// Stream-ordered scratch for the CUDA ops: one cudaMallocAsync on the
// current stream (from the device's memory pool, which keeps freed blocks:
// context.cc), freed stream-ordered at scope exit, so kernels queued before
// the free still see it. On an allocation failure the error is recorded in
// the thread's Context (check.h) and ok() is false: the op returns without
// launching. Nothing here waits for the device.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"

namespace braid::cuda {

class Scratch {
 public:
  // `what` names the allocation in the recorded error.
  explicit Scratch(size_t bytes, const char* what = "op scratch") : stream_(CurrentStream()) {
    if (bytes == 0) return;
    const cudaError_t e = cudaMallocAsync(&p_, bytes, stream_);
    if (e != cudaSuccess) {
      RecordError(CudaError(e, what, __FILE__, __LINE__));
      p_ = nullptr;
      failed_ = true;
    }
  }
  ~Scratch() {
    if (p_ != nullptr) BRAID_CUDA_CHECK(cudaFreeAsync(p_, stream_));
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  bool ok() const { return !failed_; }
  void* get() const { return p_; }
  // The scratch from byte `offset` on, as a T*.
  template <typename T>
  T* at(size_t offset = 0) const {
    return reinterpret_cast<T*>(static_cast<char*>(p_) + offset);
  }

 private:
  cudaStream_t stream_;
  void* p_ = nullptr;
  bool failed_ = false;
};

// `bytes` rounded up to 256 (regions of one scratch start 256-byte aligned:
// CUB's and cuBLASLt's preferred alignment).
inline size_t AlignedBytes(size_t bytes) { return (bytes + 255) / 256 * 256; }

}  // namespace braid::cuda
