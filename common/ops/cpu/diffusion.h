// The DiT's diffusion arithmetic as ops (docs/GPU.md, step 1), so the
// generator touches activations only through ops: timestep features, the
// keyed noising of training targets, the sampler's start noise, the DDIM
// update and the final pixel mapping. Per-element math: math/diffusion.h.
// Instantiated for float (the float op dispatches to the thread's device).
#pragma once

#include <cstdint>

namespace braid::ops {

// out (n, C): row i = sinusoidal features of timestep t[i] (C/2 cosines, then
// C/2 sines); an odd C's last column is left untouched.
template <typename T>
void timestep_features(T* out, const int32_t* t, int64_t n, int64_t C);

// The noising of m = n*R training rows of `pix` pixels: row r is draw r % R
// of image r / R (images (n, pix) in [0, 1]). keys[r] is the row's random
// key, whose first 64-bit draw picked its timestep; the noise is the key's
// normals after it: eps[r, j] = KeyedNormalAt(keys[r], 1, j). coef (m, 2):
// the row's a = sqrt(alpha_bar), b = sqrt(1 - alpha_bar).
// xt[r, j] = a (2 images[r / R, j] - 1) + b eps[r, j]. Overwrites xt, eps.
template <typename T>
void diffusion_noise(T* xt, T* eps, const T* images, const uint64_t* keys, const T* coef, int64_t m, int64_t R,
                     int64_t pix);

// out[k] = the k-th standard normal of KeyedRng(key), k < n.
template <typename T>
void keyed_normal(T* out, uint64_t key, int64_t n);

// One DDIM update (eta = 0) in place over n elements (math::DdimStep); ab,
// ab_prev: alpha_bar at the current and the next (smaller) timestep.
template <typename T>
void ddim_update(T* x, const T* eps, int64_t n, double ab, double ab_prev);

// x[i] = clamp((x[i] + 1) / 2, 0, 1): samples in [-1, 1] to pixels.
template <typename T>
void diffusion_to_pixels(T* x, int64_t n);

}  // namespace braid::ops
