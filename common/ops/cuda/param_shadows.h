// ParamShadows: the bf16 mirrors of the fp32 master weights for the autocast
// CUDA backend (cuda_backend.h, Precision::kBf16Autocast; docs/GPU.md step 5,
// "Mixed precision (as built)").
//
// A registered range is a flat fp32 parameter array (a ParamBuffer's params)
// with a bf16 mirror of it in device memory; the autocast matmul ops look a
// weight pointer up here and use the mirror at the same offset instead of
// casting the weight on every call. The mirror is kept equal to bf16(params):
//   - AdamW over a range writes the mirror in the same kernel (adamw_step's
//     params_bf16); AdamW over an unregistered buffer registers it, so a
//     trainer needs no hook (its first forward casts on the fly);
//   - writes the backend sees through its DeviceMemory (host uploads such as
//     ParamsFromHost, device copies, zeroing) mark the range stale, and the
//     next lookup re-casts it (one kernel);
//   - freeing the memory drops the range;
//   - anything else that writes the params (a kernel of one's own, an NCCL
//     broadcast) must call MarkAllStale() (CudaBackend::MarkParamsChanged).
// Used by one rank thread (the backend's); not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/base/status.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/cuda/shadow_map.h"

namespace braid::cuda {

class ParamShadows {
 public:
  explicit ParamShadows(Context* ctx) : ctx_(ctx) {}
  ~ParamShadows();
  ParamShadows(const ParamShadows&) = delete;
  ParamShadows& operator=(const ParamShadows&) = delete;

  // Registers [base, base + n) (device memory, n floats): allocates its
  // mirror (stream-ordered on the context's stream), filled at the first
  // lookup. Replaces any range it overlaps.
  Status Register(const float* base, int64_t n);
  // Drops the range starting at base (no-op if none).
  void Unregister(const float* base);

  // The bf16 mirror of [w, w + count), refreshed first when stale (a cast
  // on the current stream); null when no range holds all of it.
  const bf16* Lookup(const float* w, int64_t count);
  // For an update of all of [p, p + n) that writes the mirror too (AdamW):
  // the mirror to write, registering the range when needed (null only on an
  // allocation failure, recorded in the context). Ranges it overlaps but
  // does not equal are dropped.
  bf16* ForUpdate(const float* p, int64_t n);

  // DeviceMemory hooks: a write to [p, p + bytes) marks overlapping ranges
  // stale; freeing or newly allocating it drops them.
  void NoteWrite(const void* p, size_t bytes) { map_.MarkStale(p, bytes); }
  void NoteFree(const void* p, size_t bytes) { DropOverlapping(p, bytes); }
  void MarkAllStale() { map_.MarkAllStale(); }

  int size() const { return map_.size(); }

 private:
  void DropOverlapping(const void* p, size_t bytes);
  void Drop(int i);
  Context* ctx_;
  ShadowMap map_;
};

}  // namespace braid::cuda
