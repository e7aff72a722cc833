// Helpers shared by the bf16 op tables of the CUDA backend: the autocast
// table (autocast_ops.cc) and the bf16 activation storage ops
// (bf16_activation_ops.cc): scratch region sizes and the bf16 weight
// mirrors of the thread's memory (param_shadows.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/ops/backend.h"
#include "common/ops/cuda/cuda_backend.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/cuda/param_shadows.h"
#include "common/ops/cuda/scratch.h"

namespace braid::cuda {

// Regions of a scratch allocation start 256-byte aligned (cuBLASLt's
// preferred operand alignment).
inline size_t Aligned(int64_t elems, size_t elem_bytes) {
  return AlignedBytes(static_cast<size_t>(elems > 0 ? elems : 0) * elem_bytes);
}

// The mirrors of the backend whose memory is the thread's (null: none).
inline ParamShadows* Shadows() {
  auto* mem = dynamic_cast<CudaMemory*>(ops::CurrentDeviceMemory());
  return mem != nullptr ? mem->shadows() : nullptr;
}

// The bf16 weight (OC*C elements): its mirror, or null (cast it yourself).
inline const bf16* MirroredWeight(const float* weight, int64_t count) {
  ParamShadows* s = Shadows();
  return s != nullptr ? s->Lookup(weight, count) : nullptr;
}

}  // namespace braid::cuda
