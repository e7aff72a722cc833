// Elementwise activations and residual add.
#pragma once

#include <cstdint>

namespace braid::ops {

// GELU, tanh approximation. out (n) = gelu(inp); overwrites out.
template <typename T>
void gelu_forward(T* out, const T* inp, int64_t n);
// dinp += gelu'(inp) * dout.
template <typename T>
void gelu_backward(T* dinp, const T* dout, const T* inp, int64_t n);

// SwiGLU: inp (N, 2H) = [a | b] per row; out (N, H) = silu(a) * b. Overwrites out.
template <typename T>
void swiglu_forward(T* out, const T* inp, int64_t N, int64_t H);
// Accumulates into dinp (N, 2H).
template <typename T>
void swiglu_backward(T* dinp, const T* dout, const T* inp, int64_t N, int64_t H);

// out = a + b (n). Overwrites out (may alias a or b).
template <typename T>
void residual_forward(T* out, const T* a, const T* b, int64_t n);
// da += dout; db += dout.
template <typename T>
void residual_backward(T* da, T* db, const T* dout, int64_t n);

}  // namespace braid::ops
