// Mixed-type activation backwards for bf16 activation storage (backend.h,
// Bf16ActivationOps; bf16_activation_ops.cc): the activation's input is
// stored in bf16, the gradients are float. Same contracts and arithmetic as
// activation.h's float kernels on the widened input (common/ops/math/
// elementwise.h in float): dinp += dout * act'(inp). On the calling thread's
// cuda::Context stream; every launch checked (check.h).
#pragma once

#include <cstdint>

#include "common/ops/cuda/dtype.h"

namespace braid::ops::cuda {

// dinp (n) += dout (n) * gelu'(inp (n)).
void gelu_backward_mixed(float* dinp, const float* dout, const braid::cuda::bf16* inp, int64_t n);
// inp (N, 2H) = [a | b] per row; dinp (N, 2H) += the SwiGLU gradients of dout (N, H).
void swiglu_backward_mixed(float* dinp, const float* dout, const braid::cuda::bf16* inp, int64_t N, int64_t H);

}  // namespace braid::ops::cuda
