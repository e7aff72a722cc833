// Global gradient-norm clipping over one flat gradient array. On a rank with
// a device backend (common/ops/backend.h) `grads` is device memory and both
// run on the device; the norm is returned to the host.
#pragma once

#include <cstdint>

namespace braid {

// L2 norm accumulated in double over fixed-size blocks summed in order, so
// the result is bit-identical for any thread count.
double GradNorm(const float* grads, int64_t n);

// Returns the norm before clipping. When max_norm > 0 and norm > max_norm,
// scales grads by max_norm / norm in place. max_norm <= 0 disables clipping;
// a non-finite norm leaves grads untouched (the caller decides to skip the step).
double ClipGradNorm(float* grads, int64_t n, double max_norm);
// The scaling half of ClipGradNorm, for a norm computed elsewhere (e.g. over
// the slices of a tensor- or pipeline-parallel module).
void ClipToNorm(float* grads, int64_t n, double norm, double max_norm);

}  // namespace braid
