// Per-element math of the DiT's diffusion ops (ops/cpu/diffusion.h) as
// single-source `__host__ __device__` functions: the sinusoidal timestep
// features, the keyed noise of a training draw and of the sampler's start,
// the noising x_t = a x0 + b eps, and the DDIM step. The CPU kernels call
// them, so the CPU path is the arithmetic the CUDA kernels run (double
// exp/log/cos/sin are libm's on the host, CUDA's on the device: 1-2 ulp).
#pragma once

#include <cmath>
#include <cstdint>

#include "common/ops/math/hd.h"
#include "common/ops/math/rng.h"

namespace braid::math {

// Column j (< 2*half) of the timestep features of timestep t:
// cos(t f_j) for j < half, sin(t f_{j-half}) after, f_k = 10000^(-k/half).
BRAID_HD inline float TimestepFeature(int32_t t, int64_t j, int64_t half) {
  using std::cos;
  using std::exp;
  using std::log;
  using std::sin;
  const int64_t k = j < half ? j : j - half;
  const double f = exp(-log(10000.0) * double(k) / double(half));
  return j < half ? float(cos(t * f)) : float(sin(t * f));
}

// The k-th standard normal of KeyedRng(key) after `skip` earlier 64-bit
// draws, computed directly (the generator is counter-based: draw d's state
// is key + (d + 1) * gamma). Equal to calling NextU64() `skip` times and then
// Normal() k + 1 times.
BRAID_HD inline float KeyedNormalAt(uint64_t key, uint64_t skip, uint64_t k) {
  KeyedRng rng(key + (skip + 2 * k) * kGoldenGamma);
  return float(rng.Normal());
}

// x_t from a pixel in [0, 1] (mapped to [-1, 1]) and its noise.
BRAID_HD inline float NoisedPixel(float pixel, float eps, float a, float b) {
  return a * (2.0f * pixel - 1.0f) + b * eps;
}

// One DDIM (eta = 0) element update: x0 predicted from the noise estimate and
// clipped to [-1, 1], moved to the previous timestep. sa, sb: sqrt(ab),
// sqrt(1 - ab); pa, pb: the same at the previous timestep.
BRAID_HD inline float DdimStep(float x, float eps, double sa, double sb, double pa, double pb) {
  double x0 = (double(x) - sb * double(eps)) / sa;
  x0 = x0 < -1.0 ? -1.0 : (x0 > 1.0 ? 1.0 : x0);
  return float(pa * x0 + pb * double(eps));
}

// A sample in [-1, 1] back to a pixel in [0, 1] (clamped).
BRAID_HD inline float DiffusionToPixel(float v) {
  const float p = (v + 1.0f) * 0.5f;
  return p < 0.0f ? 0.0f : (p > 1.0f ? 1.0f : p);
}

}  // namespace braid::math
