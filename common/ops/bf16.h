// bf16 as the host sees it: 16 bits, layout-compatible with CUDA's
// __nv_bfloat16 (the upper half of an IEEE float). Host code never does
// arithmetic on it; it carries bf16 activation buffers through the op
// tables (backend.h, Bf16ActivationOps) and converts at the edges of the CPU
// reference kernels (cpu/bf16_activations.h). Rounding is to nearest, ties
// to even, as __float2bfloat16_rn; NaN stays NaN (quiet).
#pragma once

#include <cstdint>
#include <cstring>

namespace braid {

struct bf16_t {
  uint16_t bits = 0;
  constexpr bf16_t() = default;
  constexpr explicit bf16_t(int zero_only) : bits(static_cast<uint16_t>(zero_only)) {}  // TensorT's T(0)
  static constexpr bf16_t FromBits(uint16_t b) {
    bf16_t x;
    x.bits = b;
    return x;
  }
};
static_assert(sizeof(bf16_t) == 2, "bf16_t must be two bytes (the device's layout)");

inline float Bf16ToFloat(bf16_t x) {
  const uint32_t u = uint32_t{x.bits} << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline bf16_t FloatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0)  // NaN: keep it quiet, keep the sign
    return bf16_t::FromBits(static_cast<uint16_t>((u >> 16) | 0x0040u));
  const uint32_t round = 0x7fffu + ((u >> 16) & 1u);  // to nearest, ties to even
  return bf16_t::FromBits(static_cast<uint16_t>((u + round) >> 16));
}

// The float nearest to f that bf16 holds (what a bf16 store keeps).
inline float RoundToBf16(float f) { return Bf16ToFloat(FloatToBf16(f)); }

}  // namespace braid
