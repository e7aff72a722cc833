// Per-row math of the losses, shared by the CPU kernels (ops/cpu/loss.cc)
// and the CUDA kernels (ops/cuda/loss.cu, including the vocabulary-parallel
// ones): single-source `__host__ __device__` functions (docs/GPU.md, step 2).
// The kernels own the loops and the reductions; these functions fold one
// logit into a row's softmax state, turn a row's (max, sum of exp, target
// logit) into its loss, and compute each gradient element.
//
// Softmax cross-entropy of a row x with target t:
//   loss = log(sum_j exp(x_j - max)) + max - x_t
//   dloss/dx_j = softmax(x)_j - [j == t]
// The row's (max, sum) is a math::SoftmaxState (softmax.h); parts of a row
// reduced separately (threads of a block, ranks of a vocabulary-parallel
// group) combine with SoftmaxMerge.
#pragma once

#include <cmath>

#include "common/ops/math/hd.h"
#include "common/ops/math/softmax.h"  // SoftmaxState, SoftmaxMerge

namespace braid::math {

// Adds the logit x to the row state s (online softmax). The same state as
// SoftmaxPush up to rounding, with one exp per logit instead of two: the
// running sum is rescaled only when x raises the maximum.
template <typename T>
BRAID_HD inline SoftmaxState<T> CrossEntropyPush(SoftmaxState<T> s, T x) {
  if (x > s.max) return {x, s.sum * SoftmaxScale(s.max, x) + T(1)};
  return {s.max, s.sum + SoftmaxScale(x, s.max)};
}

// -log softmax(x)_t of a row from its max, its sum of exp(x_j - max) and the
// target's logit x_t.
template <typename S>
BRAID_HD inline S CrossEntropyRowLoss(S max, S sum, S target_logit) {
  using std::log;
  return log(sum) + max - target_logit;
}

// One gradient element, accumulated: d + scale * (softmax(x)_j - [j == t]),
// with inv_sum = 1 / sum. The softmax term is added first and the one-hot
// subtracted after it, in that order (the CPU kernel's rounding).
template <typename T>
BRAID_HD inline T CrossEntropyGrad(T d, T x, T max, T inv_sum, T scale, bool is_target) {
  using std::exp;
  const T g = d + scale * exp(x - max) * inv_sum;
  return is_target ? g - scale : g;
}

// (pred - target)^2, in the accumulation type S.
template <typename S>
BRAID_HD inline S SquaredError(S pred, S target) {
  const S e = pred - target;
  return e * e;
}

// d/dpred of scale * (pred - target)^2.
template <typename T>
BRAID_HD inline T SquaredErrorGrad(T pred, T target, T scale) {
  return scale * T(2) * (pred - target);
}

}  // namespace braid::math
