// CUDA RMSNorm and LayerNorm over the last dimension C, per row: the
// contracts of ops/cpu/norm.h (forward outputs overwritten; dinp, dweight and
// dbias accumulated with +=) on the calling thread's cuda::Context stream, T
// float or bf16 (dtype.h). The statistics (mean, rstd: N each) are float for
// every T. The per-row arithmetic is common/ops/math/norm.h in float; row
// reductions accumulate in float. dweight and dbias are reduced over rows in
// a fixed order (per-chunk partial sums, then the chunks in order): the
// results are the same bits on every run.
#pragma once

#include <cstdint>

#include "common/ops/cuda/dtype.h"

namespace braid::ops::cuda {

// out = inp * rstd * weight, rstd = 1/sqrt(mean(inp^2) + eps).
template <typename T>
void rmsnorm_forward(T* out, float* rstd, const T* inp, const T* weight, int64_t N, int64_t C, float eps = 1e-5f);
template <typename T>
void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, const float* rstd, int64_t N,
                      int64_t C);

// out = (inp - mean) * rstd * weight + bias.
template <typename T>
void layernorm_forward(T* out, float* mean, float* rstd, const T* inp, const T* weight, const T* bias, int64_t N,
                       int64_t C, float eps = 1e-5f);
template <typename T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, const float* mean,
                        const float* rstd, int64_t N, int64_t C);

// The forwards from a float input into a bf16 output (the blocks' bf16
// activation storage, docs/GPU.md "Mixed precision"): the same float
// arithmetic, the output rounded to nearest even.
void rmsnorm_forward_to_bf16(braid::cuda::bf16* out, float* rstd, const float* inp, const float* weight, int64_t N,
                             int64_t C, float eps);
void layernorm_forward_to_bf16(braid::cuda::bf16* out, float* mean, float* rstd, const float* inp,
                               const float* weight, const float* bias, int64_t N, int64_t C, float eps);

}  // namespace braid::ops::cuda
