// CUDA twins of the DiT's diffusion ops (ops/cpu/diffusion.h, same contracts)
// on the calling thread's cuda::Context stream, T float or bf16 (dtype.h;
// the math is math/diffusion.h's, in float and double as on the CPU). One
// thread per element: deterministic, no atomics. The keyed noise is the
// counter-based stream of math/rng.h drawn per element.
#pragma once

#include <cstdint>

namespace braid::ops::cuda {

template <typename T>
void timestep_features(T* out, const int32_t* t, int64_t n, int64_t C);
template <typename T>
void diffusion_noise(T* xt, T* eps, const T* images, const uint64_t* keys, const T* coef, int64_t m, int64_t R,
                     int64_t pix);
template <typename T>
void keyed_normal(T* out, uint64_t key, int64_t n);
template <typename T>
void ddim_update(T* x, const T* eps, int64_t n, double ab, double ab_prev);
template <typename T>
void diffusion_to_pixels(T* x, int64_t n);

}  // namespace braid::ops::cuda
