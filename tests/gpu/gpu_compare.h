// Test helpers for CUDA ops against their CPU references: fresh random
// inputs (seeded from the test's name and the clock unless
// BRAID_GPU_TEST_SEED is set, so each run draws new inputs yet a failure
// can be replayed) and the scale-normalised error
//   max_i |gpu_i - cpu_i| / max(1e-6, max_i |cpu_i|)
// with the bounds of docs/GPU.md: fp32 1e-5 (GEMM-heavy ops: 1e-4), bf16 1e-2.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <cuda_bf16.h>

#include "tests/support/normalised_error.h"

namespace braid::gputest {

inline constexpr double kFp32Bound = 1e-5;
inline constexpr double kFp32GemmBound = 1e-4;
inline constexpr double kBf16Bound = 1e-2;

inline uint64_t TestSeed(const std::string& salt) {
  if (const char* s = std::getenv("BRAID_GPU_TEST_SEED")) return std::strtoull(s, nullptr, 10) ^ std::hash<std::string>{}(salt);
  static const uint64_t base = std::random_device{}();
  std::printf("[seed] %s: BRAID_GPU_TEST_SEED=%llu\n", salt.c_str(), static_cast<unsigned long long>(base));
  return base ^ std::hash<std::string>{}(salt);
}

inline std::vector<float> RandomVector(int64_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

inline std::vector<__nv_bfloat16> ToBf16(const std::vector<float>& v) {
  std::vector<__nv_bfloat16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = __float2bfloat16_rn(v[i]);
  return out;
}

inline std::vector<float> FromBf16(const std::vector<__nv_bfloat16>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = __bfloat162float(v[i]);
  return out;
}

// Rounds through bf16 and back: the CPU reference of a bf16 kernel runs on
// the same (rounded) inputs the GPU sees.
inline std::vector<float> RoundBf16(const std::vector<float>& v) { return FromBf16(ToBf16(v)); }

using testing_support::NormalisedError;  // tests/support/normalised_error.h

}  // namespace braid::gputest
