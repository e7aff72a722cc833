// The counter-based random generator of common/base/rng.h as single-source
// `__host__ __device__` functions (docs/GPU.md, step 2), so a CUDA kernel
// draws the diffusion noise of a (seed, step, sample) key exactly as the CPU
// does. Mix64, HashKey, the KeyedRng stream and Uniform are integer
// arithmetic and one exact conversion: bit-identical on host and device.
// Normal's double log/cos/sqrt are libm's on the host and CUDA's on the
// device (within CUDA's documented 1-2 ulp), so device normals may differ
// from the host's in the last bits.
#pragma once

#include <cmath>
#include <cstdint>

#include "common/ops/math/hd.h"

namespace braid::math {

inline constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

// SplitMix64 finaliser: a strong 64-bit mixing function.
BRAID_HD inline uint64_t Mix64(uint64_t x) {
  x += kGoldenGamma;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

BRAID_HD inline uint64_t HashKey(uint64_t a, uint64_t b = 0, uint64_t c = 0, uint64_t d = 0) {
  uint64_t h = Mix64(a);
  h = Mix64(h ^ b);
  h = Mix64(h ^ c);
  h = Mix64(h ^ d);
  return h;
}

// The top 53 bits of `bits` as a double uniform in [0, 1) (exact).
BRAID_HD inline double UnitUniform(uint64_t bits) {
  return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);
}

// Box-Muller: one standard normal from two uniforms in [0, 1).
BRAID_HD inline double BoxMuller(double u1, double u2) {
  using std::cos;
  using std::log;
  using std::sqrt;
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

// A small stream generator seeded from a key; deterministic and cheap.
class KeyedRng {
 public:
  BRAID_HD explicit KeyedRng(uint64_t key) : state_(key) {}
  // SplitMix64: advance the state by the golden gamma and mix it.
  BRAID_HD uint64_t NextU64() {
    state_ += kGoldenGamma;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  BRAID_HD double Uniform() { return UnitUniform(NextU64()); }
  // Uniform integer in [0, n).
  BRAID_HD uint64_t Below(uint64_t n) { return n == 0 ? 0 : NextU64() % n; }
  // Standard normal (Box-Muller, one value per call for simplicity).
  BRAID_HD double Normal() {
    const double u1 = Uniform();
    const double u2 = Uniform();
    return BoxMuller(u1, u2);
  }

 private:
  uint64_t state_;
};

}  // namespace braid::math
