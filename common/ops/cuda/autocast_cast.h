// Casts between the fp32 tensors of the model and the bf16 scratch of the
// autocast CUDA backend (cuda_backend.h, Precision::kBf16Autocast;
// docs/GPU.md step 5), on the calling thread's cuda::Context stream. Every
// launch is checked (check.h). bf16 rounding is round-to-nearest-even.
#pragma once

#include <cstdint>

#include "common/ops/cuda/dtype.h"

namespace braid::ops::cuda {

// dst[i] = bf16(src[i]) for i < n.
void cast_to_bf16(braid::cuda::bf16* dst, const float* src, int64_t n);

// The packed rows of attention (attention.h): rows [cu_seqlens[0],
// cu_seqlens[num_seqs]) of `width` columns, read on the device (no host
// wait) and clamped to [0, max_rows), the rows the caller's scratch holds.
// Rows outside are not touched.
//   cast_rows_to_bf16:        dst = bf16(src)
//   copy_rows_to_float:       dst = float(src)
//   accumulate_rows_to_float: dst += float(src)
void cast_rows_to_bf16(braid::cuda::bf16* dst, const float* src, int64_t width, const int32_t* cu_seqlens,
                       int num_seqs, int64_t max_rows);
void copy_rows_to_float(float* dst, const braid::cuda::bf16* src, int64_t width, const int32_t* cu_seqlens,
                        int num_seqs, int64_t max_rows);
void accumulate_rows_to_float(float* dst, const braid::cuda::bf16* src, int64_t width, const int32_t* cu_seqlens,
                              int num_seqs, int64_t max_rows);

}  // namespace braid::ops::cuda
