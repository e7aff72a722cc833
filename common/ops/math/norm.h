// Per-row math of RMSNorm and LayerNorm shared by the CPU kernels
// (ops/cpu/norm.cc) and the CUDA kernels (ops/cuda/norm.cu): single-source
// `__host__ __device__` functions (docs/GPU.md, "Single-source math"). The
// kernels own the loops and the row reductions (sum of squares, mean,
// variance, the backward's dot products); these functions turn the reduced
// terms into statistics and compute each element from them. A is the
// accumulation type of a reduction (double on the CPU, float on the GPU), T
// the element arithmetic type.
#pragma once

#include <cmath>

#include "common/ops/math/hd.h"

namespace braid::math {

// rstd = 1 / sqrt(sum / count + eps): RMSNorm's from the sum of squares,
// LayerNorm's from the sum of squared deviations from the mean.
template <typename A>
BRAID_HD inline A NormRstd(A sum, A count, A eps) {
  using std::sqrt;
  return A(1) / sqrt(sum / count + eps);
}

// --- RMSNorm: y = x r w.

template <typename T>
BRAID_HD inline T RmsNormOut(T x, T r, T w) {
  return x * r * w;
}

// The backward's row reduction: sum_c dy_c w_c x_c, term by term.
template <typename A>
BRAID_HD inline A RmsNormDotTerm(A dy, A w, A x) {
  return dy * w * x;
}

// k = dot r^3 / C, from the row's reduced dot.
template <typename T>
BRAID_HD inline T RmsNormBackwardCoeff(T dot, T r, T count) {
  return dot * r * r * r / count;
}

// dx_c = r w_c dy_c - k x_c.
template <typename T>
BRAID_HD inline T RmsNormDx(T dy, T x, T w, T r, T k) {
  return r * w * dy - k * x;
}

// The row's contribution to dw_c: dy_c x_c r.
template <typename T>
BRAID_HD inline T RmsNormDw(T dy, T x, T r) {
  return dy * x * r;
}

// --- LayerNorm: y = (x - m) r w + b.

template <typename T>
BRAID_HD inline T LayerNormOut(T x, T m, T r, T w, T b) {
  return (x - m) * r * w + b;
}

// The backward's row reductions, term by term: s1 += dxhat_c, s2 += dxhat_c
// xhat_c, dxhat = dy w, xhat = (x - m) r.
template <typename A>
BRAID_HD inline void LayerNormDotTerms(A dy, A w, A x, A m, A r, A* s1, A* s2) {
  const A dxh = dy * w;
  *s1 += dxh;
  *s2 += dxh * (x - m) * r;
}

// dx_c = r (dxhat_c - a - xhat_c b), a = s1 / C, b = s2 / C.
template <typename T>
BRAID_HD inline T LayerNormDx(T dy, T x, T w, T m, T r, T a, T b) {
  const T xh = (x - m) * r;
  return r * (dy * w - a - xh * b);
}

// The row's contribution to dw_c: dy_c xhat_c (dbias_c gets dy_c).
template <typename T>
BRAID_HD inline T LayerNormDw(T dy, T x, T m, T r) {
  return dy * (x - m) * r;
}

}  // namespace braid::math
