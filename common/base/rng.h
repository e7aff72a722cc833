// Counter-based randomness keyed by (seed, step, sample id, stream): every
// random draw in a step depends only on its key, never on which rank or
// process makes it (DESIGN.md §2, "randomness keyed by sample").
#pragma once

#include <cmath>
#include <cstdint>

namespace braid {

// SplitMix64 finaliser: a strong 64-bit mixing function.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t HashKey(uint64_t a, uint64_t b = 0, uint64_t c = 0, uint64_t d = 0) {
  uint64_t h = Mix64(a);
  h = Mix64(h ^ b);
  h = Mix64(h ^ c);
  h = Mix64(h ^ d);
  return h;
}

// The random keys of a training step, in one place so the single-process
// trainer and every distributed rank draw exactly the same numbers.
// Generation target k of a sample: its diffusion timestep and noise.
inline uint64_t GenerationKey(uint64_t seed, int64_t step, int64_t sample_id, int64_t k) {
  return HashKey(seed, uint64_t(step), uint64_t(sample_id), uint64_t(k));
}
// The initialisation key of module 1 (encoder), 2 (LLM) or 3 (generator).
inline uint64_t ModuleInitKey(uint64_t seed, int module) { return HashKey(seed, uint64_t(module)); }

// A small stream generator seeded from a key; deterministic and cheap.
class KeyedRng {
 public:
  explicit KeyedRng(uint64_t key) : state_(key) {}
  uint64_t NextU64() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(NextU64() >> 11) * (1.0 / 9007199254740992.0); }
  // Uniform integer in [0, n).
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : NextU64() % n; }
  // Standard normal (Box-Muller, one value per call for simplicity).
  double Normal() {
    double u1 = Uniform();
    double u2 = Uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
};

}  // namespace braid
