// Per-element math shared by the CPU kernels (ops/cpu/) and, in the CUDA
// backend (issue 9, docs/GPU.md), by the device kernels: single-source
// `__host__ __device__` functions, so the CPU tests exercise the same
// arithmetic the GPU runs. Plain functions of scalars: no memory, no loops,
// no std:: calls that device code lacks (the math functions are found
// unqualified: std:: on the host, CUDA's overloads on the device).
#pragma once

#include <cmath>

#include "common/ops/math/hd.h"

namespace braid::math {

inline constexpr double kGeluC = 0.7978845608028654;  // sqrt(2/pi)

// GELU, tanh approximation, written as x * sigmoid(2u) (u = sqrt(2/pi) (x +
// 0.044715 x^3)): exact in real arithmetic and several times faster than
// tanh on glibc.
template <typename T>
BRAID_HD inline T Gelu(T x) {
  using std::exp;
  const T u = T(kGeluC) * (x + T(0.044715) * x * x * x);
  return x / (T(1) + exp(T(-2) * u));
}

// d gelu(x) / dx.
template <typename T>
BRAID_HD inline T GeluGrad(T x) {
  using std::exp;
  const T u = T(kGeluC) * (x + T(0.044715) * x * x * x);
  const T sig = T(1) / (T(1) + exp(T(-2) * u));  // (1 + tanh u) / 2
  const T th = T(2) * sig - T(1);
  const T sech2 = T(1) - th * th;
  const T du = T(kGeluC) * (T(1) + T(3 * 0.044715) * x * x);
  return sig + T(0.5) * x * sech2 * du;
}

template <typename T>
BRAID_HD inline T Sigmoid(T x) {
  using std::exp;
  return T(1) / (T(1) + exp(-x));
}

// SwiGLU of one pair: silu(a) * b.
template <typename T>
BRAID_HD inline T Swiglu(T a, T b) {
  return a * Sigmoid(a) * b;
}

// Its gradients: *da, *db for upstream gradient d.
template <typename T>
BRAID_HD inline void SwigluGrad(T a, T b, T d, T* da, T* db) {
  const T s = Sigmoid(a);
  *da = d * b * s * (T(1) + a * (T(1) - s));
  *db = d * (a * s);
}

}  // namespace braid::math
