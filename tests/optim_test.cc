// AdamW, LR schedules and grad clipping against numbers worked out by hand.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "common/optim/adamw.h"
#include "common/optim/grad_clip.h"
#include "common/optim/lr_schedule.h"

namespace braid {
namespace {

// Three parameters: "w" (2 elements, decayed) and "b" (1 element, not decayed).
// p0 = [1, -2, 0.5], g1 = [0.5, -1, 2], g2 = [-0.5, 0.25, 1], lr = 0.1,
// beta1 = 0.9, beta2 = 0.95, eps = 1e-8.
//
// Step 1: m = 0.1*g1 = [0.05, -0.1, 0.2]; v = 0.05*g1^2 = [0.0125, 0.05, 0.2]
//   mhat = m/0.1 = g1, vhat = v/0.05 = g1^2, so the Adam update is sign(g1) = [1, -1, 1]
//   wd = 0:   p1 = [0.9, -1.9, 0.4]
//   wd = 0.1: p -= 0.1*0.1*p on w only: p1 = [1-0.01-0.1, -2+0.02+0.1, 0.4] = [0.89, -1.88, 0.4]
// Step 2: m = 0.9*m + 0.1*g2 = [-0.005, -0.065, 0.28]
//   v = 0.95*v + 0.05*g2^2 = [0.024375, 0.050625, 0.24]
//   bc1 = 1-0.9^2 = 0.19, bc2 = 1-0.95^2 = 0.0975
//   mhat = [-0.02631579, -0.34210526, 1.47368421], vhat = [0.25, 0.51923077, 2.46153846]
//   update = mhat/(sqrt(vhat)+eps) = [-0.05263158, -0.47476591, 0.93929307]
//   wd = 0:   p2 = p1 - 0.1*update = [0.90526316, -1.85252341, 0.30607069]
//   wd = 0.1: p2 = p1 - 0.01*p1(w only) - 0.1*update
//                = [0.89-0.0089+0.00526316, -1.88+0.0188+0.04747659, 0.30607069]
//                = [0.88636316, -1.81372341, 0.30607069]
struct Expected {
  float p1[3], p2[3];
};

void RunTwoSteps(float wd, const Expected& want) {
  ParamBuffer pb;
  pb.Add("w", {2}, /*decay=*/true);
  pb.Add("b", {1}, /*decay=*/false);
  pb.Allocate();
  pb.params() = {1.0f, -2.0f, 0.5f};
  AdamWConfig cfg;
  cfg.weight_decay = wd;
  AdamW opt(pb.size(), cfg);

  pb.grads() = {0.5f, -1.0f, 2.0f};
  opt.Step(pb, 0.1f);
  EXPECT_EQ(opt.t(), 1);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(pb.params()[i], want.p1[i], 1e-6) << "step 1, i=" << i;
  const float m1[3] = {0.05f, -0.1f, 0.2f}, v1[3] = {0.0125f, 0.05f, 0.2f};
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(opt.m()[i], m1[i], 1e-7);
    EXPECT_NEAR(opt.v()[i], v1[i], 1e-7);
  }

  pb.grads() = {-0.5f, 0.25f, 1.0f};
  opt.Step(pb, 0.1f);
  EXPECT_EQ(opt.t(), 2);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(pb.params()[i], want.p2[i], 1e-6) << "step 2, i=" << i;
  const float m2[3] = {-0.005f, -0.065f, 0.28f}, v2[3] = {0.024375f, 0.050625f, 0.24f};
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(opt.m()[i], m2[i], 1e-7);
    EXPECT_NEAR(opt.v()[i], v2[i], 1e-7);
  }
}

TEST(AdamW, TwoStepsNoWeightDecay) {
  RunTwoSteps(0.0f, {{0.9f, -1.9f, 0.4f}, {0.90526316f, -1.85252341f, 0.30607069f}});
}

TEST(AdamW, TwoStepsWeightDecayRespectsMask) {
  // "b" (decay=false) ends where it ends without weight decay.
  RunTwoSteps(0.1f, {{0.89f, -1.88f, 0.4f}, {0.88636316f, -1.81372341f, 0.30607069f}});
}

TEST(AdamW, DeterministicAcrossRunsAndResumable) {
  // A large buffer (OpenMP path): two identical runs agree bit for bit, and
  // an optimizer rebuilt from (m, v, t) continues identically.
  const int64_t n = 100000;
  auto make = [&] {
    ParamBuffer pb;
    pb.Add("a", {n / 2}, true);
    pb.Add("b", {n / 2}, false);
    pb.Allocate();
    for (int64_t i = 0; i < n; ++i) pb.params()[i] = std::sin(0.001f * i);
    return pb;
  };
  auto grads = [&](ParamBuffer& pb, int s) {
    for (int64_t i = 0; i < n; ++i) pb.grads()[i] = std::cos(0.003f * i + s);
  };
  AdamWConfig cfg;
  cfg.weight_decay = 0.05f;
  ParamBuffer a = make(), b = make();
  AdamW oa(n, cfg), ob(n, cfg);
  for (int s = 0; s < 3; ++s) {
    grads(a, s), grads(b, s);
    oa.Step(a, 1e-2f);
    ob.Step(b, 1e-2f);
    if (s == 1) {  // b: "restore" into a fresh optimizer
      AdamW fresh(n, cfg);
      fresh.m() = ob.m();
      fresh.v() = ob.v();
      fresh.set_t(ob.t());
      ob = fresh;
    }
  }
  EXPECT_EQ(a.params(), b.params());
  EXPECT_EQ(oa.m(), ob.m());
  EXPECT_EQ(oa.t(), 3);
}

TEST(LrSchedule, CosineWithWarmup) {
  // lr 1, min 0.1, warm-up 4, total 14: peak at step 3, decay over steps 3..13 (span 10).
  LrSchedule s{"cosine", 1.0f, 0.1f, 4, 14};
  ASSERT_TRUE(ValidateLrSchedule(s).ok());
  EXPECT_FLOAT_EQ(LearningRateAt(s, 0), 0.25f);  // lr * 1/4
  EXPECT_FLOAT_EQ(LearningRateAt(s, 1), 0.5f);
  EXPECT_FLOAT_EQ(LearningRateAt(s, 3), 1.0f);   // peak
  EXPECT_FLOAT_EQ(LearningRateAt(s, 5), 0.91405765f);  // x = 0.2: 0.1 + 0.45*(1+cos(0.2 pi))
  EXPECT_FLOAT_EQ(LearningRateAt(s, 8), 0.55f);  // x = 0.5: middle
  EXPECT_FLOAT_EQ(LearningRateAt(s, 13), 0.1f);  // end
  EXPECT_FLOAT_EQ(LearningRateAt(s, 100), 0.1f); // past the end
}

TEST(LrSchedule, LinearAndConstant) {
  LrSchedule lin{"linear", 1.0f, 0.1f, 4, 14};
  EXPECT_FLOAT_EQ(LearningRateAt(lin, 0), 0.25f);
  EXPECT_FLOAT_EQ(LearningRateAt(lin, 3), 1.0f);
  EXPECT_FLOAT_EQ(LearningRateAt(lin, 5), 0.82f);  // 1 - 0.9*0.2
  EXPECT_FLOAT_EQ(LearningRateAt(lin, 8), 0.55f);
  EXPECT_FLOAT_EQ(LearningRateAt(lin, 13), 0.1f);

  LrSchedule con{"constant", 0.5f, 0.0f, 2, 10};
  EXPECT_FLOAT_EQ(LearningRateAt(con, 0), 0.25f);
  EXPECT_FLOAT_EQ(LearningRateAt(con, 1), 0.5f);
  EXPECT_FLOAT_EQ(LearningRateAt(con, 9), 0.5f);
  EXPECT_FLOAT_EQ(LearningRateAt(con, 50), 0.5f);
}

TEST(LrSchedule, NoWarmupStartsAtPeak) {
  LrSchedule s{"cosine", 2.0f, 0.0f, 0, 5};  // decay over steps 0..4
  EXPECT_FLOAT_EQ(LearningRateAt(s, 0), 2.0f);
  EXPECT_FLOAT_EQ(LearningRateAt(s, 2), 1.0f);
  EXPECT_NEAR(LearningRateAt(s, 4), 0.0f, 1e-7);
  LrSchedule one{"cosine", 2.0f, 0.5f, 0, 1};
  EXPECT_FLOAT_EQ(LearningRateAt(one, 0), 2.0f);
}

TEST(LrSchedule, Validation) {
  EXPECT_FALSE(ValidateLrSchedule({"step", 1.0f, 0.0f, 0, 1}).ok());
  EXPECT_FALSE(ValidateLrSchedule({"cosine", -1.0f, 0.0f, 0, 1}).ok());
  EXPECT_FALSE(ValidateLrSchedule({"cosine", 1.0f, 0.0f, -1, 1}).ok());
  EXPECT_FALSE(ValidateLrSchedule({"cosine", 1.0f, 0.0f, 0, 0}).ok());
}

TEST(GradClip, KnownVector) {
  std::vector<float> g = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(GradNorm(g.data(), 2), 5.0);
  EXPECT_DOUBLE_EQ(ClipGradNorm(g.data(), 2, 10.0), 5.0);  // under the limit: untouched
  EXPECT_EQ(g, (std::vector<float>{3.0f, 4.0f}));
  EXPECT_DOUBLE_EQ(ClipGradNorm(g.data(), 2, 0.0), 5.0);   // disabled
  EXPECT_EQ(g, (std::vector<float>{3.0f, 4.0f}));
  EXPECT_DOUBLE_EQ(ClipGradNorm(g.data(), 2, 1.0), 5.0);   // returns the norm before clipping
  EXPECT_FLOAT_EQ(g[0], 0.6f);
  EXPECT_FLOAT_EQ(g[1], 0.8f);
  EXPECT_NEAR(GradNorm(g.data(), 2), 1.0, 1e-7);
  EXPECT_EQ(GradNorm(g.data(), 0), 0.0);
}

TEST(GradClip, LargeBufferMatchesSequential) {
  const int64_t n = 1000003;  // several blocks, ragged tail
  std::vector<float> g(static_cast<size_t>(n));
  double ref = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    g[i] = 1e-3f * std::sin(0.01f * i);
    ref += static_cast<double>(g[i]) * g[i];
  }
  const double norm = GradNorm(g.data(), n);
  EXPECT_NEAR(norm, std::sqrt(ref), 1e-12);
  EXPECT_EQ(norm, GradNorm(g.data(), n));  // bit-identical on repeat
  ClipGradNorm(g.data(), n, norm / 2);
  EXPECT_NEAR(GradNorm(g.data(), n), norm / 2, 1e-6 * norm);
}

}  // namespace
}  // namespace braid
