// Helpers shared by the op tests: random tensors, finite differences in
// float64, and the normalised error used by every comparison.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "common/base/rng.h"

namespace braid::testing_util {

inline std::vector<double> RandomVec(size_t n, uint64_t seed, double scale = 1.0) {
  KeyedRng rng(seed);
  std::vector<double> v(n);
  for (auto& x : v) x = rng.Normal() * scale;
  return v;
}

inline std::vector<float> ToFloat(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// max |a - b| / max(max |b|, 1e-12): the normalised error.
template <typename A, typename B>
double RelErr(const std::vector<A>& a, const std::vector<B>& b) {
  double num = 0, den = 1e-12;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::abs(double(a[i]) - double(b[i])));
    den = std::max(den, std::abs(double(b[i])));
  }
  return num / den;
}

// Central finite differences of the scalar f() with respect to every element of x.
inline std::vector<double> NumericGrad(std::vector<double>& x, const std::function<double()>& f, double eps = 1e-6) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    double old = x[i];
    x[i] = old + eps;
    double fp = f();
    x[i] = old - eps;
    double fm = f();
    x[i] = old;
    g[i] = (fp - fm) / (2 * eps);
  }
  return g;
}

inline double DotVec(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace braid::testing_util
