// DDPM noise schedule (linear betas) and the DDIM sampler's update rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace braid::nn {

class DiffusionSchedule {
 public:
  explicit DiffusionSchedule(int steps, double beta_start = 1e-4, double beta_end = 0.02);
  int steps() const { return static_cast<int>(alpha_bar_.size()); }
  double alpha_bar(int t) const { return alpha_bar_[static_cast<size_t>(t)]; }
  // Evenly spaced timesteps for a `n`-step DDIM sampler, descending (T-1 ... 0).
  std::vector<int> SamplingTimesteps(int n) const;

 private:
  std::vector<double> alpha_bar_;
};

// One deterministic DDIM update (eta = 0) in place: predicts x0 from the noise
// estimate, clips it to [-1, 1], and moves x to the previous timestep.
// ab, ab_prev: alpha_bar at the current and the next (smaller) timestep
// (ab_prev = 1 at the last step, which returns the clipped x0 prediction).
// The op ops::ddim_update: x and eps are in the thread's memory (a device's
// when it has a backend).
void DdimUpdate(float* x, const float* eps, int64_t n, double ab, double ab_prev);

}  // namespace braid::nn
