// Global gradient-norm clipping over one flat gradient array. On a rank with
// a device backend (common/ops/backend.h) `grads` is device memory and all
// of it runs on the device. The *Into/*At forms keep the norm in the
// thread's memory (a device double), so a step's clip never waits for the
// device; GradNorm and ClipGradNorm read it back (one wait on a device).
#pragma once

#include <cstdint>

namespace braid {

// *norm = the L2 norm, accumulated in double over fixed-size blocks summed
// in order, so the result is bit-identical for any thread count.
void GradNormInto(double* norm, const float* grads, int64_t n);
// When max_norm > 0 and *norm > max_norm (finite), scales grads by
// max_norm / *norm in place. max_norm <= 0 disables clipping; a non-finite
// norm leaves grads untouched (the caller decides to skip the step).
void ClipToNormAt(float* grads, int64_t n, const double* norm, double max_norm);
// Both: *norm receives the norm before clipping.
void ClipGradNormInto(float* grads, int64_t n, double max_norm, double* norm);

// The same with the norm on the host.
double GradNorm(const float* grads, int64_t n);
double ClipGradNorm(float* grads, int64_t n, double max_norm);
// The scaling half, for a norm computed elsewhere (e.g. over the slices of a
// tensor- or pipeline-parallel module).
void ClipToNorm(float* grads, int64_t n, double norm, double max_norm);

}  // namespace braid
