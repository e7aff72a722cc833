// The ViT encoder and the DiT generator on a device backend (docs/GPU.md,
// step 3): run on the guarded fake device (host memory mprotect'ed except
// inside its ops, every op argument checked to be device memory), they must
// touch activations and parameters only through ops, and since its ops are
// the CPU kernels, every output, loss and gradient must be bit-equal to the
// host run's.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/ops/cpu/diffusion.h"
#include "common/ops/math/diffusion.h"
#include "tests/support/guarded_device.h"
#include "tests/support/vit_dit_runs.h"

namespace braid::testing_support {
namespace {

TEST(NnDeviceVitDit, VitOnTheGuardedDeviceIsBitEqualToTheHost) {
  const VitRun host = RunVit(nullptr, 11);
  GuardedDevice dev;
  GuardedOps gops(&dev);
  const ops::Backend b = gops.backend();
  const int64_t calls = GuardedOps::calls();
  const VitRun on_dev = RunVit(&b, 11);
  EXPECT_GT(GuardedOps::calls(), calls);
  EXPECT_EQ(on_dev.out_a, host.out_a);
  EXPECT_EQ(on_dev.out_b, host.out_b);
  EXPECT_EQ(on_dev.grads, host.grads);
  bool any_nonzero = false;
  for (float g : host.grads) any_nonzero |= g != 0.f;
  EXPECT_TRUE(any_nonzero);
}

TEST(NnDeviceVitDit, DitOnTheGuardedDeviceIsBitEqualToTheHost) {
  const DitRun host = RunDit(nullptr, 12);
  GuardedDevice dev;
  GuardedOps gops(&dev);
  const ops::Backend b = gops.backend();
  const DitRun on_dev = RunDit(&b, 12);
  EXPECT_EQ(on_dev.loss_a, host.loss_a);
  EXPECT_EQ(on_dev.loss_b, host.loss_b);
  EXPECT_EQ(on_dev.dcond_a, host.dcond_a);
  EXPECT_EQ(on_dev.dcond_b, host.dcond_b);
  EXPECT_EQ(on_dev.grads, host.grads);
  EXPECT_EQ(on_dev.pred, host.pred);
  EXPECT_EQ(on_dev.sample, host.sample);
  EXPECT_GT(host.loss_a, 0.0);
  int64_t nonzero = 0;
  for (float g : host.grads) nonzero += g != 0.f;
  EXPECT_GT(nonzero, int64_t(host.grads.size()) / 2);
}

// The counter-based draws of the ops equal the sequential KeyedRng stream
// the generator drew from before (timestep first, then the noise).
TEST(NnDeviceVitDit, KeyedNormalsFollowTheSequentialStream) {
  const uint64_t key = HashKey(5, 6);
  KeyedRng seq(key);
  (void)seq.Below(50);  // the timestep draw
  for (uint64_t j = 0; j < 100; ++j) EXPECT_EQ(math::KeyedNormalAt(key, 1, j), float(seq.Normal()));
  KeyedRng start(key);
  std::vector<float> out(37);
  ops::keyed_normal(out.data(), key, 37);
  for (float v : out) EXPECT_EQ(v, float(start.Normal()));
}

TEST(NnDeviceVitDit, NoiseMixesTheImageWithTheKeyedNoise) {
  const int64_t R = 2, pix = 5, m = 4;
  std::vector<float> img(2 * pix), coef{0.6f, 0.8f, 1.f, 0.f, 0.f, 1.f, 0.5f, 0.5f};
  for (int64_t i = 0; i < 2 * pix; ++i) img[size_t(i)] = float(i) / 10.f;
  const std::vector<uint64_t> keys{1, 2, 3, 4};
  std::vector<float> xt(m * pix), eps(m * pix);
  ops::diffusion_noise(xt.data(), eps.data(), img.data(), keys.data(), coef.data(), m, R, pix);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < pix; ++j) {
      const float e = math::KeyedNormalAt(keys[size_t(r)], 1, uint64_t(j));
      EXPECT_EQ(eps[size_t(r * pix + j)], e);
      const float x0 = 2.f * img[size_t((r / R) * pix + j)] - 1.f;
      EXPECT_EQ(xt[size_t(r * pix + j)], coef[size_t(2 * r)] * x0 + coef[size_t(2 * r + 1)] * e);
    }
}

TEST(NnDeviceVitDit, TimestepFeaturesAreCosinesThenSinesAndLeaveAnOddColumn) {
  const int64_t C = 7, half = 3;
  const std::vector<int32_t> t{0, 17};
  std::vector<float> out(2 * C, -9.f);
  ops::timestep_features(out.data(), t.data(), 2, C);
  for (int64_t j = 0; j < half; ++j) {
    EXPECT_EQ(out[size_t(j)], 1.f);             // cos(0)
    EXPECT_EQ(out[size_t(half + j)], 0.f);      // sin(0)
    EXPECT_NEAR(out[size_t(C + j)], std::cos(17.0 * std::pow(10000.0, -double(j) / half)), 1e-6);
  }
  EXPECT_EQ(out[size_t(C - 1)], -9.f);
  EXPECT_EQ(out[size_t(2 * C - 1)], -9.f);
}

TEST(NnDeviceVitDit, DiffusionToPixelsClamps) {
  std::vector<float> x{-3.f, -1.f, 0.f, 0.5f, 1.f, 2.f};
  ops::diffusion_to_pixels(x.data(), 6);
  EXPECT_EQ(x, (std::vector<float>{0.f, 0.f, 0.5f, 0.75f, 1.f, 1.f}));
}

}  // namespace
}  // namespace braid::testing_support
