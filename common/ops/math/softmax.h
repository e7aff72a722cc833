// Online softmax (the running max and running sum of flash attention),
// single-source for the CPU and the CUDA attention (docs/GPU.md, step 2).
//
// A row x_0..x_{n-1} is summarised by a state (max, sum) with
//   max = max_j x_j,   sum = sum_j exp(x_j - max),
// so that logsumexp(x) = max + log(sum) and softmax(x)_j = exp(x_j - lse).
// Two states of disjoint parts of a row merge into the state of their union
// (SoftmaxMerge); a state moves to a larger max by multiplying its sum (and
// any accumulator weighted by it) by SoftmaxScale(old max, new max). Masked
// entries are -inf and contribute nothing; the empty state is (-inf, 0).
// Every function guards the -inf - -inf = NaN case, so fully masked parts
// are harmless. Scalars only: no memory, no loops (see elementwise.h).
#pragma once

#include <cmath>

#include "common/ops/math/hd.h"

namespace braid::math {

template <typename T>
struct SoftmaxState {
  T max;
  T sum;
};

template <typename T>
BRAID_HD inline T NegInf() {
  return static_cast<T>(-INFINITY);
}

// The state of an empty (or fully masked) row.
template <typename T>
BRAID_HD inline SoftmaxState<T> SoftmaxEmpty() {
  return {NegInf<T>(), T(0)};
}

// exp(x - max): the weight of x relative to `max` (>= x), and the factor
// that rescales a sum (or accumulator) kept relative to x to one relative to
// `max`. 0 when x is -inf (masked), including when max is -inf too.
template <typename T>
BRAID_HD inline T SoftmaxScale(T x, T max) {
  using std::exp;
  return x == NegInf<T>() ? T(0) : exp(x - max);
}

// Adds one entry x to the state.
template <typename T>
BRAID_HD inline SoftmaxState<T> SoftmaxPush(SoftmaxState<T> s, T x) {
  const T m = x > s.max ? x : s.max;
  return {m, s.sum * SoftmaxScale(s.max, m) + SoftmaxScale(x, m)};
}

// The state of the union of two disjoint parts of a row.
template <typename T>
BRAID_HD inline SoftmaxState<T> SoftmaxMerge(SoftmaxState<T> a, SoftmaxState<T> b) {
  const T m = a.max > b.max ? a.max : b.max;
  return {m, a.sum * SoftmaxScale(a.max, m) + b.sum * SoftmaxScale(b.max, m)};
}

// log(sum_j exp(x_j)); -inf for an empty state.
template <typename T>
BRAID_HD inline T SoftmaxLse(SoftmaxState<T> s) {
  using std::log;
  return s.sum > T(0) ? s.max + log(s.sum) : NegInf<T>();
}

}  // namespace braid::math
