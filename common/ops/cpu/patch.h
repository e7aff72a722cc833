// Images <-> patch rows for the ViT and the DiT (one channel): image i of
// (n, S, S) pixels becomes rows i*g*g .. (i+1)*g*g - 1 of (n*g*g, p*p),
// g = S / p, patches in row-major order, pixels row-major inside a patch.
#pragma once

#include <cstdint>

namespace braid::ops {

// out (n*g*g, p*p) = (img - shift) / scale, per pixel. Overwrites out.
template <typename T>
void patchify(T* out, const T* img, int64_t n, int64_t S, int64_t p, T shift = T(0), T scale = T(1));
// The inverse layout (no scaling): img (n, S, S) from rows (n*g*g, p*p).
template <typename T>
void unpatchify(T* img, const T* rows, int64_t n, int64_t S, int64_t p);

}  // namespace braid::ops
