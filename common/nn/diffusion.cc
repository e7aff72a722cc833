#include "common/nn/diffusion.h"

#include <algorithm>
#include <cmath>

#include "common/ops/cpu/diffusion.h"

namespace braid::nn {

DiffusionSchedule::DiffusionSchedule(int steps, double beta_start, double beta_end) {
  alpha_bar_.resize(static_cast<size_t>(steps));
  double ab = 1.0;
  for (int t = 0; t < steps; ++t) {
    double beta = steps == 1 ? beta_start : beta_start + (beta_end - beta_start) * t / double(steps - 1);
    ab *= 1.0 - beta;
    alpha_bar_[static_cast<size_t>(t)] = ab;
  }
}

std::vector<int> DiffusionSchedule::SamplingTimesteps(int n) const {
  const int T = steps();
  n = std::clamp(n, 1, T);
  std::vector<int> ts;
  for (int i = n - 1; i >= 0; --i) ts.push_back(int((int64_t(i) * (T - 1)) / std::max(1, n - 1)));
  ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
  return ts;
}

void DdimUpdate(float* x, const float* eps, int64_t n, double ab, double ab_prev) {
  ops::ddim_update(x, eps, n, ab, ab_prev);
}

}  // namespace braid::nn
