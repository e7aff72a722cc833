// CUDA images <-> patch rows for the ViT and the DiT: the layout of
// ops/cpu/patch.h (image i of (n, S, S) pixels becomes rows i*g*g ..
// (i+1)*g*g - 1 of (n*g*g, p*p), g = S / p) on the calling thread's
// cuda::Context stream, T float or bf16 (dtype.h). shift and scale are float
// for every T; the scaling is computed in float.
#pragma once

#include <cstdint>

namespace braid::ops::cuda {

// out (n*g*g, p*p) = (img - shift) / scale, per pixel. Overwrites out.
template <typename T>
void patchify(T* out, const T* img, int64_t n, int64_t S, int64_t p, float shift = 0.f, float scale = 1.f);
// The inverse layout (no scaling): img (n, S, S) from rows (n*g*g, p*p).
template <typename T>
void unpatchify(T* img, const T* rows, int64_t n, int64_t S, int64_t p);

}  // namespace braid::ops::cuda
