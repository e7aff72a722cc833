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

}  // namespace braid::nn
