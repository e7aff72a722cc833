// The CUDA backend of ops::Backend (docs/GPU.md, step 3): device memory
// stream-ordered on a cuda::Context's compute stream (cudaMallocAsync from the
// device's memory pool; no managed memory) and the float op table of the
// CUDA kernels. A rank thread installs both with
//   cuda::ScopedContext ctx_scope(ctx);
//   ops::ScopedBackend backend_scope(cuda_backend.backend());
// Errors inside ops are recorded in the Context (check.h) and collected at op
// boundaries with Context::TakeError().
#pragma once

#include "common/ops/backend.h"
#include "common/ops/cuda/context.h"

namespace braid::cuda {

class CudaMemory : public ops::DeviceMemory {
 public:
  explicit CudaMemory(Context* ctx) : ctx_(ctx) {}
  const char* name() const override { return "cuda"; }
  // Allocation failure (out of device memory) aborts with the CUDA error:
  // nothing mid-step can recover from it, and the supervisor restarts the rank.
  void* Allocate(size_t bytes) override;
  void Free(void* p, size_t bytes) override;
  void Zero(void* p, size_t bytes) override;
  void CopyDeviceToDevice(void* dst, const void* src, size_t bytes) override;
  // Waits for the stream (checkpoints, reports; never in the step's hot path).
  void CopyToHost(void* dst, const void* src, size_t bytes) override;
  void CopyFromHost(void* dst, const void* src, size_t bytes) override;

 private:
  Context* ctx_;
};

// The float ops of the CUDA kernels (every op of backend.h's DeviceOps).
const ops::DeviceOps& CudaOps();

class CudaBackend {
 public:
  explicit CudaBackend(Context* ctx) : memory_(ctx) {}
  ops::Backend backend() { return {&CudaOps(), &memory_}; }

 private:
  CudaMemory memory_;
};

}  // namespace braid::cuda
