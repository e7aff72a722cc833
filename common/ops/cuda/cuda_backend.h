// The CUDA backend of ops::Backend (docs/GPU.md, step 3): device memory
// stream-ordered on a cuda::Context's compute stream (cudaMallocAsync from the
// device's memory pool; no managed memory) and the float op table of the
// CUDA kernels. A rank thread installs both with
//   cuda::ScopedContext ctx_scope(ctx);
//   ops::ScopedBackend backend_scope(cuda_backend.backend());
// Errors inside ops are recorded in the Context (check.h) and collected at op
// boundaries with Context::TakeError().
#pragma once

#include <memory>

#include "common/base/status.h"
#include "common/ops/backend.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/param_shadows.h"

namespace braid::cuda {

class CudaMemory : public ops::DeviceMemory {
 public:
  explicit CudaMemory(Context* ctx, ParamShadows* shadows = nullptr);
  ~CudaMemory() override;
  CudaMemory(const CudaMemory&) = delete;
  CudaMemory& operator=(const CudaMemory&) = delete;
  const char* name() const override { return "cuda"; }
  // Allocation failure (out of device memory) aborts with the CUDA error:
  // nothing mid-step can recover from it, and the supervisor restarts the rank.
  void* Allocate(size_t bytes) override;
  void Free(void* p, size_t bytes) override;
  void Zero(void* p, size_t bytes) override;
  void CopyDeviceToDevice(void* dst, const void* src, size_t bytes) override;
  // Waits for the stream (checkpoints, reports; never in the step's hot path).
  void CopyToHost(void* dst, const void* src, size_t bytes) override;
  // Never waits: the bytes go through a pinned staging ring (staging_ring.h;
  // pageable memory only for uploads larger than the ring, kStagingBytes).
  // The caller may reuse `src` at once. Like the rest of this memory, one
  // thread at a time (the rank's).
  void CopyFromHost(void* dst, const void* src, size_t bytes) override;
  static constexpr size_t kStagingBytes = size_t{64} << 20;
  // The autocast backend's bf16 weight mirrors (null under fp32): writes and
  // frees through this memory keep them in step (param_shadows.h).
  ParamShadows* shadows() const { return shadows_; }

 private:
  struct Staging;  // the pinned ring and its uploads' events (cuda_backend.cc)
  Context* ctx_;
  ParamShadows* shadows_;
  std::unique_ptr<Staging> staging_;  // made on the first upload
  bool staging_failed_ = false;       // cudaMallocHost failed once: pageable copies
};

// The float ops of the CUDA kernels (every op of backend.h's DeviceOps).
const ops::DeviceOps& CudaOps();

// Mixed precision (docs/GPU.md step 5, "Mixed precision (as built)"):
// kFp32 runs every op in fp32 (CudaOps). kBf16Autocast (CudaAutocastOps)
// runs the matmuls and the attention on bf16 operands with fp32
// accumulation and fp32 results, every other op in fp32, the master weights,
// gradients and AdamW moments in fp32; weights come from bf16 mirrors of the
// parameter buffers (param_shadows.h).
enum class Precision { kFp32, kBf16Autocast };

// The autocast table: CudaOps() with matmul_forward, matmul_backward,
// attention_forward, attention_backward and adamw_step replaced. Its ops find
// the weight mirrors through the thread's DeviceMemory (a CudaMemory of an
// autocast CudaBackend); with any other memory they cast weights on the fly.
const ops::DeviceOps& CudaAutocastOps();

// bf16 activation storage (backend.h, Bf16ActivationOps): the autocast
// table's bf16_activations; weights from the mirrors as above (bf16_activation_ops.cc).
const ops::Bf16ActivationOps& CudaBf16ActivationOps();

class CudaBackend {
 public:
  explicit CudaBackend(Context* ctx, Precision precision = Precision::kFp32)
      : precision_(precision),
        shadows_(precision == Precision::kBf16Autocast ? std::make_unique<ParamShadows>(ctx) : nullptr),
        memory_(ctx, shadows_.get()) {}
  ops::Backend backend() {
    return {precision_ == Precision::kBf16Autocast ? &CudaAutocastOps() : &CudaOps(), &memory_};
  }
  Precision precision() const { return precision_; }

  // Autocast only (no-ops returning Ok under kFp32). Optional: AdamW
  // registers the buffer it updates on its first step, so a trainer needs
  // none of these; registering right after ParamBuffer::MoveToDevice makes
  // the first forward use the mirror too. base/n: params_data()/size().
  Status RegisterParams(const float* base, int64_t n) {
    return shadows_ != nullptr ? shadows_->Register(base, n) : Status::Ok();
  }
  void UnregisterParams(const float* base) {
    if (shadows_ != nullptr) shadows_->Unregister(base);
  }
  // After writing registered params by a path the backend does not see (a
  // kernel of one's own, an NCCL broadcast): the mirrors are re-cast before
  // their next use.
  void MarkParamsChanged() {
    if (shadows_ != nullptr) shadows_->MarkAllStale();
  }
  ParamShadows* shadows() { return shadows_.get(); }

 private:
  Precision precision_;
  std::unique_ptr<ParamShadows> shadows_;  // before memory_, which points at it
  CudaMemory memory_;
};

}  // namespace braid::cuda
