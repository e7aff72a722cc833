// CUDA AdamW, gradient norm and clip against the CPU optimizer
// (common/optim/adamw.cc, grad_clip.cc) on fresh random inputs: several
// AdamW steps over a buffer of views with and without weight decay, the bf16
// copy of the params, the norm against a float64 host sum, and determinism
// (two runs, the same bits).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "common/ops/cuda/adamw.h"
#include "common/ops/cuda/block_reduce.h"
#include "common/ops/cuda/dtype.h"
#include "common/optim/adamw.h"
#include "common/optim/grad_clip.h"
#include "tests/gpu/gpu_fixture.h"

namespace braid::gputest {
namespace {

using cuda::bf16;

class AdamWGpuTest : public GpuTest {};

ParamBuffer MixedDecayBuffer() {
  ParamBuffer pb;
  pb.Add("embed", {257, 129});
  pb.Add("norm.weight", {129}, /*decay=*/false);
  pb.Add("mlp.weight", {300, 111});
  pb.Add("mlp.bias", {300}, /*decay=*/false);
  pb.Add("head", {3, 5});
  pb.Allocate();
  return pb;
}

TEST_F(AdamWGpuTest, StepsMatchCpuAdamW) {
  ParamBuffer pb = MixedDecayBuffer();
  const int64_t n = pb.size();
  const uint64_t seed = TestSeed("adamw");
  pb.params() = RandomVector(n, seed);
  const AdamWConfig cfg{0.9f, 0.95f, 1e-8f, 0.1f};
  AdamW cpu(n, cfg);

  auto d_p = Up(pb.params());
  auto d_m = Zeros<float>(n);
  auto d_v = Zeros<float>(n);
  auto d_g = Zeros<float>(n);
  auto d_mask = Up(AdamWDecayMask(pb));
  auto d_p16 = Zeros<bf16>(n);
  for (int64_t t = 1; t <= 5; ++t) {
    // Gradients of very different scales, so that eps and the bias corrections matter.
    pb.grads() = RandomVector(n, seed + uint64_t(t), -1.f, 1.f);
    for (int64_t i = 0; i < n; i += 97) pb.grads()[size_t(i)] *= 1e-6f;
    ASSERT_TRUE(d_g.CopyFromHost(pb.grads().data(), n).ok());
    const float lr = 1e-3f * float(t);
    cpu.Step(pb, lr);
    ops::cuda::adamw_step(d_p.data(), d_m.data(), d_v.data(), d_g.data(), d_mask.data(), n,
                          math::AdamWScalarsAt(lr, cfg.beta1, cfg.beta2, cfg.eps, t),
                          math::AdamWDecay(lr, cfg.weight_decay, true), d_p16.data());
    SCOPED_TRACE("step " + std::to_string(t));
    // Same arithmetic; the device may fuse a multiply-add (one rounding less).
    const auto p = Down(d_p);
    EXPECT_LE(NormalisedError(p, pb.params()), kFp32Bound);
    EXPECT_LE(NormalisedError(Down(d_m), cpu.m()), kFp32Bound);
    EXPECT_LE(NormalisedError(Down(d_v), cpu.v()), kFp32Bound);
    // The bf16 copy is the updated fp32 params rounded to nearest even.
    EXPECT_EQ(DownF(d_p16), RoundBf16(p));
  }
}

TEST_F(AdamWGpuTest, NullMaskDecaysEverywhere) {
  const int64_t n = 10007;
  const uint64_t seed = TestSeed("adamw-mask");
  const auto p0 = RandomVector(n, seed), g = RandomVector(n, seed + 1);
  const auto s = math::AdamWScalarsAt(1e-2f, 0.9f, 0.999f, 1e-8f, 3);
  const float decay = math::AdamWDecay(1e-2f, 0.5f, true);
  auto run = [&](const uint8_t* mask) {
    auto d_p = Up(p0);
    auto d_m = Up(g);
    auto d_v = Up(std::vector<float>(size_t(n), 0.25f));
    auto d_g = Up(g);
    ops::cuda::adamw_step(d_p.data(), d_m.data(), d_v.data(), d_g.data(), mask, n, s, decay);
    return Down(d_p);
  };
  auto ones = Up(std::vector<uint8_t>(size_t(n), 1));
  auto zeros = Up(std::vector<uint8_t>(size_t(n), 0));
  const auto with_null = run(nullptr), with_ones = run(ones.data()), with_zeros = run(zeros.data());
  EXPECT_EQ(with_null, with_ones);
  EXPECT_NE(with_null, with_zeros);
  // The reference on the host: the same math per element.
  for (int64_t i = 0; i < n; i += 1001) {
    float p = p0[size_t(i)], m = g[size_t(i)], v = 0.25f;
    math::AdamWUpdate(&p, &m, &v, g[size_t(i)], 0.f, s);
    EXPECT_NEAR(with_zeros[size_t(i)], p, 1e-6f * (1 + std::fabs(p))) << i;
  }
}

double HostNorm(const std::vector<float>& g) {
  long double s = 0;
  for (float x : g) s += static_cast<long double>(x) * x;
  return static_cast<double>(std::sqrt(s));
}

TEST_F(AdamWGpuTest, GradNormMatchesFloat64AndIsDeterministic) {
  for (int64_t n : {1, 255, 1000, 3 * 32768 + 5, (1 << 22) + 17}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const auto g = RandomVector(n, TestSeed("norm" + std::to_string(n)), -2.f, 2.f);
    auto d_g = Up(g);
    auto d_norm = Zeros<double>(1);
    auto d_sq = Zeros<double>(1);
    auto scratch = Zeros<double>(cuda::kSumPartials);
    ops::cuda::grad_norm(d_norm.data(), d_g.data(), n, scratch.data());
    const double norm = Down(d_norm).at(0);
    EXPECT_NEAR(norm, HostNorm(g), 1e-12 * HostNorm(g));
    EXPECT_NEAR(norm, GradNorm(g.data(), n), 1e-12 * HostNorm(g));
    ops::cuda::grad_sum_of_squares(d_sq.data(), d_g.data(), n, scratch.data());
    EXPECT_NEAR(Down(d_sq).at(0), norm * norm, 1e-12 * norm * norm);
    ops::cuda::grad_norm(d_norm.data(), d_g.data(), n, scratch.data());
    const double again = Down(d_norm).at(0);
    EXPECT_EQ(std::memcmp(&again, &norm, sizeof(double)), 0);
  }
}

TEST_F(AdamWGpuTest, ClipMatchesCpu) {
  const int64_t n = 70001;
  const auto g = RandomVector(n, TestSeed("clip"));
  const double norm = GradNorm(g.data(), n);
  auto clip = [&](double device_norm, double max_norm) {
    auto d_g = Up(g);
    auto d_norm = Up(std::vector<double>{device_norm});
    ops::cuda::clip_to_norm(d_g.data(), n, d_norm.data(), max_norm);
    return Down(d_g);
  };
  // Clipped: grads *= float(max_norm / norm), exactly the CPU's scale.
  std::vector<float> want = g;
  ClipToNorm(want.data(), n, norm, norm / 3);
  EXPECT_EQ(clip(norm, norm / 3), want);
  // Not clipped: below the limit, clipping off, a non-finite norm.
  EXPECT_EQ(clip(norm, norm * 2), g);
  EXPECT_EQ(clip(norm, 0.0), g);
  EXPECT_EQ(clip(INFINITY, 1.0), g);
  EXPECT_EQ(clip(NAN, 1.0), g);
}

}  // namespace
}  // namespace braid::gputest
