// A rank's CUDA state: its device, its compute stream, a cuBLASLt handle with
// a workspace, and the first error any op recorded (ops return void, like the
// CPU ones; check.h). One Context per rank thread; ops find it through the
// thread-local Current(), set by a ScopedContext for the duration of a
// rank's work (docs/GPU.md, step 3).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>
#include <mutex>

#include "common/base/status.h"

namespace braid::cuda {

class Context {
 public:
  // Selects `device` (cudaSetDevice), creates a non-blocking compute stream,
  // a cuBLASLt handle and a `workspace_bytes` cuBLASLt workspace.
  static StatusOr<std::unique_ptr<Context>> Create(int device, size_t workspace_bytes = size_t{32} << 20);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasLtHandle_t lt() const { return lt_; }
  void* workspace() const { return workspace_; }
  size_t workspace_bytes() const { return workspace_bytes_; }
  int sm_count() const { return sm_count_; }

  // Keeps the first error; later ones are dropped (they usually follow from it).
  void Record(Status s);
  // The recorded error (OK when none), clearing it. Does not synchronise: an
  // asynchronous kernel fault shows at the next checked call after it.
  Status TakeError();
  // Waits for the compute stream (checkpoints, reports, tests; never inside
  // a step's hot path) and returns any error, recorded or from the wait.
  Status Synchronize();

 private:
  Context() = default;
  int device_ = -1;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  int sm_count_ = 0;
  std::mutex mu_;
  Status error_;
};

// The calling thread's Context, or null outside any ScopedContext.
Context* Current();

// Makes `ctx` the calling thread's current Context (and its device current)
// until destroyed; restores the previous one.
class ScopedContext {
 public:
  explicit ScopedContext(Context* ctx);
  ~ScopedContext();
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  Context* prev_;
};

// The current Context's compute stream (ops launch on it).
cudaStream_t CurrentStream();

}  // namespace braid::cuda
