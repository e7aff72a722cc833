// CUDA AdamW over one module's flat fp32 parameter buffer, and the
// deterministic gradient norm and clip: the meaning of common/optim/adamw.cc
// and common/optim/grad_clip.cc on the calling thread's cuda::Context
// stream. The element update is common/ops/math/adamw.h's.
//
// Mixed precision (docs/GPU.md, step 5): params, grads and the moments m, v
// are fp32 (master weights); the step can also refresh a bf16 copy of the
// updated params for the bf16 GEMMs.
//
// API difference from the CPU: the norm stays on the device (a device
// double), and the clip reads it there, so a step needs no host round trip.
// The norm is a fixed-order two-pass reduction (block_reduce.h): the same
// gradients give the same bits on every run.
#pragma once

#include <cstdint>

#include "common/ops/cuda/dtype.h"
#include "common/ops/math/adamw.h"

namespace braid::ops::cuda {

// One AdamW step over n elements of the flat buffer (multi-tensor: one
// launch for every view), s = math::AdamWScalarsAt(lr, b1, b2, eps, t) for
// the step's t. decay_on = lr * weight_decay (math::AdamWDecay(lr, wd,
// true)) applies to element i where decay_mask[i] != 0 (the views' decay
// flags, AdamWDecayMask in common/optim/adamw.h); a null mask applies it
// everywhere. When params_bf16 is not null it receives the updated params
// rounded to bf16.
void adamw_step(float* params, float* m, float* v, const float* grads, const uint8_t* decay_mask, int64_t n,
                const math::AdamWScalars<float>& s, float decay_on, braid::cuda::bf16* params_bf16 = nullptr);

// *sum_sq (device) = sum of grads[i]^2 in double; scratch:
// braid::cuda::kSumPartials doubles (block_reduce.h). For a norm over the
// slices of a model-parallel module, sum these over the group.
void grad_sum_of_squares(double* sum_sq, const float* grads, int64_t n, double* scratch);
// *norm (device) = sqrt of the above: GradNorm's L2 norm.
void grad_norm(double* norm, const float* grads, int64_t n, double* scratch);
// ClipToNorm with the norm on the device: when max_norm > 0 and *norm is
// finite and > max_norm, grads *= float(max_norm / *norm); else unchanged.
void clip_to_norm(float* grads, int64_t n, const double* norm, double max_norm);

}  // namespace braid::ops::cuda
