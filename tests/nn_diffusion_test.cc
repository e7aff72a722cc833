// The diffusion schedule and the DDIM sampler's update rule: with an oracle
// noise predictor (the true noise of x_t given x0), DDIM must land on x0.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/base/rng.h"
#include "common/nn/diffusion.h"

namespace braid::nn {
namespace {

TEST(Diffusion, AlphaBarDecreasesFromNearOne) {
  DiffusionSchedule s(1000);
  EXPECT_NEAR(s.alpha_bar(0), 1.0 - 1e-4, 1e-12);
  for (int t = 1; t < s.steps(); ++t) EXPECT_LT(s.alpha_bar(t), s.alpha_bar(t - 1));
  EXPECT_LT(s.alpha_bar(999), 1e-3);
}

TEST(Diffusion, SamplingTimestepsDescendToZero) {
  DiffusionSchedule s(1000);
  std::vector<int> ts = s.SamplingTimesteps(50);
  ASSERT_EQ(ts.size(), 50u);
  EXPECT_EQ(ts.front(), 999);
  EXPECT_EQ(ts.back(), 0);
  for (size_t i = 1; i < ts.size(); ++i) EXPECT_LT(ts[i], ts[i - 1]);
  EXPECT_EQ(s.SamplingTimesteps(5000).size(), 1000u);  // clamped to the schedule
}

TEST(Diffusion, DdimWithOracleNoiseRecoversTheImage) {
  DiffusionSchedule s(1000);
  const int n = 64;
  KeyedRng rng(42);
  std::vector<float> x0(n), x(n), eps(n);
  for (auto& v : x0) v = float(rng.Uniform() * 1.8 - 0.9);
  for (auto& v : x) v = float(rng.Normal());
  std::vector<int> ts = s.SamplingTimesteps(20);
  for (size_t k = 0; k < ts.size(); ++k) {
    const double ab = s.alpha_bar(ts[k]);
    // Oracle: the noise that makes x = sqrt(ab) x0 + sqrt(1-ab) eps exactly.
    for (int i = 0; i < n; ++i) eps[i] = float((x[i] - std::sqrt(ab) * x0[i]) / std::sqrt(1.0 - ab));
    const double ab_prev = k + 1 < ts.size() ? s.alpha_bar(ts[k + 1]) : 1.0;
    DdimUpdate(x.data(), eps.data(), n, ab, ab_prev);
  }
  double max_err = 0;
  for (int i = 0; i < n; ++i) max_err = std::max(max_err, double(std::abs(x[i] - x0[i])));
  EXPECT_LT(max_err, 1e-4);
}

TEST(Diffusion, DdimClipsTheImagePrediction) {
  // A wildly wrong noise estimate at a high-noise step cannot push x0 outside [-1, 1].
  std::vector<float> x = {5.0f}, eps = {-100.0f};
  DdimUpdate(x.data(), eps.data(), 1, 0.5, 1.0);
  EXPECT_FLOAT_EQ(x[0], 1.0f);
}

}  // namespace
}  // namespace braid::nn
