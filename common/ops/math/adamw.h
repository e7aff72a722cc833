// AdamW's per-element update (Loshchilov & Hutter, decoupled weight decay),
// single-source for the CPU optimizer (common/optim/adamw.cc) and the CUDA
// multi-tensor AdamW (ops/cuda/adamw.cu); docs/GPU.md, step 2.
//
// Step t (counting from 1), per element:
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
//   p -= decay * p                        decay = lr*wd, or 0 where off
//   p -= lr * (m/(1-b1^t)) / (sqrt(v)/sqrt(1-b2^t) + eps)
#pragma once

#include <cmath>
#include <cstdint>

#include "common/ops/math/hd.h"

namespace braid::math {

// The scalars of one step, the same for every element.
template <typename T>
struct AdamWScalars {
  T lr, beta1, beta2, eps;
  T bc1;       // 1 - beta1^t
  T bc2_sqrt;  // sqrt(1 - beta2^t)
};

// The scalars of step t. The bias corrections are computed in double (b^t
// underflows gracefully and stays exact for small t) and rounded to T.
template <typename T>
BRAID_HD inline AdamWScalars<T> AdamWScalarsAt(T lr, T beta1, T beta2, T eps, int64_t t) {
  using std::pow;
  using std::sqrt;
  AdamWScalars<T> s;
  s.lr = lr;
  s.beta1 = beta1;
  s.beta2 = beta2;
  s.eps = eps;
  s.bc1 = static_cast<T>(1.0 - pow(static_cast<double>(beta1), static_cast<double>(t)));
  s.bc2_sqrt = static_cast<T>(sqrt(1.0 - pow(static_cast<double>(beta2), static_cast<double>(t))));
  return s;
}

// The decoupled decay factor of a tensor: lr * weight_decay where decay
// applies (ParamView::decay), else 0.
template <typename T>
BRAID_HD inline T AdamWDecay(T lr, T weight_decay, bool decay) {
  return decay ? lr * weight_decay : T(0);
}

// One element's update of p, m, v for gradient g.
template <typename T>
BRAID_HD inline void AdamWUpdate(T* p, T* m, T* v, T g, T decay, const AdamWScalars<T>& s) {
  using std::sqrt;
  *m = s.beta1 * *m + (T(1) - s.beta1) * g;
  *v = s.beta2 * *v + (T(1) - s.beta2) * g * g;
  const T mhat = *m / s.bc1;
  const T denom = sqrt(*v) / s.bc2_sqrt + s.eps;
  *p -= decay * *p;
  *p -= s.lr * mhat / denom;
}

}  // namespace braid::math
