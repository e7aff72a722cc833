// CUDA activations and the residual add: same contracts as ops/cpu/activation.h
// (forward outputs overwritten, backward gradients accumulated with +=), on the calling thread's cuda::Context stream. T is
// float or bf16 (dtype.h); the arithmetic is common/ops/math/elementwise.h in
// float.
#pragma once

#include <cstdint>

namespace braid::ops::cuda {

template <typename T>
void gelu_forward(T* out, const T* inp, int64_t n);
template <typename T>
void gelu_backward(T* dinp, const T* dout, const T* inp, int64_t n);

template <typename T>
void swiglu_forward(T* out, const T* inp, int64_t N, int64_t H);
template <typename T>
void swiglu_backward(T* dinp, const T* dout, const T* inp, int64_t N, int64_t H);

template <typename T>
void residual_forward(T* out, const T* a, const T* b, int64_t n);
template <typename T>
void residual_backward(T* da, T* db, const T* dout, int64_t n);

}  // namespace braid::ops::cuda
