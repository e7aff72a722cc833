// Counter-based randomness keyed by (seed, step, sample id, stream): every
// random draw in a step depends only on its key, never on which rank or
// process makes it (DESIGN.md §2, "randomness keyed by sample").
#pragma once

#include <cstdint>

#include "common/ops/math/rng.h"

namespace braid {

// Mix64, HashKey and KeyedRng live in common/ops/math/rng.h, single-source
// for the host and the CUDA kernels (the same bits on both).
using math::HashKey;
using math::KeyedRng;
using math::Mix64;

// The random keys of a training step, in one place so the single-process
// trainer and every distributed rank draw exactly the same numbers.
// Generation target k of a sample: its diffusion timestep and noise.
inline uint64_t GenerationKey(uint64_t seed, int64_t step, int64_t sample_id, int64_t k) {
  return HashKey(seed, uint64_t(step), uint64_t(sample_id), uint64_t(k));
}
// The initialisation key of module 1 (encoder), 2 (LLM) or 3 (generator).
inline uint64_t ModuleInitKey(uint64_t seed, int module) { return HashKey(seed, uint64_t(module)); }

}  // namespace braid
