// RMSNorm and LayerNorm over the last dimension C, per row.
#pragma once

#include <cstdint>

namespace braid::ops {

// out = inp * rstd * weight, rstd = 1/sqrt(mean(inp^2) + eps). rstd (N) saved.
template <typename T>
void rmsnorm_forward(T* out, T* rstd, const T* inp, const T* weight, int64_t N, int64_t C, T eps = T(1e-5));
// Accumulates into dinp (N,C) and dweight (C).
template <typename T>
void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, const T* rstd, int64_t N,
                      int64_t C);

// out = (inp - mean) * rstd * weight + bias. mean, rstd (N) saved.
template <typename T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* inp, const T* weight, const T* bias, int64_t N, int64_t C,
                       T eps = T(1e-5));
// Accumulates into dinp (N,C), dweight (C), dbias (C).
template <typename T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, const T* mean,
                        const T* rstd, int64_t N, int64_t C);

}  // namespace braid::ops
