// The single-source math of the losses, AdamW and the keyed RNG
// (common/ops/math/{loss,adamw,rng}.h) that the CPU and the CUDA kernels
// share: row pieces against float64, gradients against finite differences,
// the online softmax against the two-pass one, AdamW against a float64
// AdamW and against the CPU optimizer, and the RNG against values pinned
// from the implementation before it moved into math/rng.h.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "common/base/rng.h"
#include "common/ops/cpu/loss.h"
#include "common/ops/math/adamw.h"
#include "common/ops/math/loss.h"
#include "common/ops/math/rng.h"
#include "common/optim/adamw.h"

namespace braid::math {
namespace {

std::vector<double> RandomRow(int n, uint64_t seed, double lo = -8, double hi = 8) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> x(static_cast<size_t>(n));
  for (double& v : x) v = d(g);
  return x;
}

// log(sum_j exp(x_j)) - x_t in long double, the reference.
long double ReferenceLoss(const std::vector<double>& x, int t) {
  long double mx = x[0];
  for (double v : x) mx = std::max(mx, static_cast<long double>(v));
  long double s = 0;
  for (double v : x) s += std::exp(static_cast<long double>(v) - mx);
  return std::log(s) + mx - static_cast<long double>(x[size_t(t)]);
}

// The two-pass state (max, then sum of exp) of a row.
template <typename T>
SoftmaxState<T> TwoPass(const std::vector<T>& x) {
  T mx = x[0];
  for (T v : x) mx = std::max(mx, v);
  T s = 0;
  for (T v : x) s += std::exp(v - mx);
  return {mx, s};
}

template <typename T>
SoftmaxState<T> Online(const std::vector<T>& x, size_t begin, size_t end) {
  SoftmaxState<T> s = SoftmaxEmpty<T>();
  for (size_t i = begin; i < end; ++i) s = CrossEntropyPush(s, x[i]);
  return s;
}

TEST(LossMath, RowLossMatchesFloat64) {
  for (int n : {1, 7, 264, 5000}) {
    const auto x = RandomRow(n, 100 + uint64_t(n));
    for (int t : {0, n / 2, n - 1}) {
      const SoftmaxState<double> s = TwoPass(x);
      const long double want = ReferenceLoss(x, t);
      EXPECT_NEAR(CrossEntropyRowLoss(s.max, s.sum, x[size_t(t)]), double(want), 1e-12 * (1 + std::fabs(double(want))));
      std::vector<float> xf(x.begin(), x.end());
      const SoftmaxState<float> sf = Online(xf, 0, xf.size());
      // float: within a few ulp of the row's magnitude
      EXPECT_NEAR(CrossEntropyRowLoss(sf.max, sf.sum, xf[size_t(t)]), double(ReferenceLoss({xf.begin(), xf.end()}, t)),
                  2e-5 * (1 + std::fabs(double(want))));
    }
  }
}

TEST(LossMath, OnlineSoftmaxEqualsTwoPassAndMergesSplits) {
  auto x = RandomRow(1001, 7);
  x[500] = 30;  // a late maximum forces a rescale of the running sum
  const SoftmaxState<double> two = TwoPass(x);
  const SoftmaxState<double> one = Online(x, 0, x.size());
  EXPECT_EQ(one.max, two.max);
  EXPECT_NEAR(one.sum, two.sum, 1e-13 * two.sum);
  // A row split in parts reduced separately (threads, ranks), including empty parts.
  for (size_t cut : {size_t{0}, size_t{1}, size_t{500}, size_t{501}, x.size()}) {
    const SoftmaxState<double> merged = SoftmaxMerge(Online(x, 0, cut), Online(x, cut, x.size()));
    EXPECT_EQ(merged.max, two.max) << cut;
    EXPECT_NEAR(merged.sum, two.sum, 1e-13 * two.sum) << cut;
  }
  // Pushing is SoftmaxPush up to rounding.
  SoftmaxState<double> generic = SoftmaxEmpty<double>();
  for (double v : x) generic = SoftmaxPush(generic, v);
  EXPECT_EQ(generic.max, one.max);
  EXPECT_NEAR(generic.sum, one.sum, 1e-13 * one.sum);
  // Masked (-inf) logits contribute nothing, even first.
  SoftmaxState<double> masked = CrossEntropyPush(SoftmaxEmpty<double>(), -double(INFINITY));
  masked = CrossEntropyPush(masked, 2.0);
  EXPECT_EQ(masked.max, 2.0);
  EXPECT_EQ(masked.sum, 1.0);
}

TEST(LossMath, CrossEntropyGradIsTheDerivativeOfTheLoss) {
  const int n = 37, t = 11;
  auto x = RandomRow(n, 3, -3, 3);
  const double scale = 0.37, h = 1e-6;
  const SoftmaxState<double> s = TwoPass(x);
  for (int j = 0; j < n; ++j) {
    auto xp = x, xm = x;
    xp[size_t(j)] += h;
    xm[size_t(j)] -= h;
    const double fd = scale * double(ReferenceLoss(xp, t) - ReferenceLoss(xm, t)) / (2 * h);
    const double d0 = 0.25;  // accumulated onto an existing gradient
    EXPECT_NEAR(CrossEntropyGrad(d0, x[size_t(j)], s.max, 1 / s.sum, scale, j == t) - d0, fd, 1e-8) << j;
  }
}

TEST(LossMath, SquaredErrorAndItsGradient) {
  const double h = 1e-6;
  for (double p : {-2.0, 0.0, 0.3, 5.0})
    for (double q : {-1.0, 0.7}) {
      EXPECT_DOUBLE_EQ(SquaredError(p, q), (p - q) * (p - q));
      const double fd = 0.5 * (SquaredError(p + h, q) - SquaredError(p - h, q)) / (2 * h);
      EXPECT_NEAR(SquaredErrorGrad(p, q, 0.5), fd, 1e-8);
    }
}

// The CPU loss ops (which use the math) against float64 on random rows with
// ignored targets.
TEST(LossMath, CpuCrossEntropyOpMatchesFloat64) {
  const int64_t N = 9, V = 300;
  const auto xd = RandomRow(int(N * V), 5);
  std::vector<float> x(xd.begin(), xd.end()), losses(static_cast<size_t>(N));
  std::vector<int32_t> targets = {3, -1, 299, 0, 150, -1, 7, 8, 9};
  int64_t count = 0;
  const double total = ops::cross_entropy_host(losses.data(), x.data(), targets.data(), N, V, &count);
  EXPECT_EQ(count, 7);
  long double want = 0;
  for (int64_t n = 0; n < N; ++n) {
    if (targets[size_t(n)] < 0) {
      EXPECT_EQ(losses[size_t(n)], 0.f);
      continue;
    }
    const std::vector<double> row(x.begin() + n * V, x.begin() + (n + 1) * V);
    const long double l = ReferenceLoss(row, targets[size_t(n)]);
    EXPECT_NEAR(losses[size_t(n)], double(l), 1e-5 * (1 + std::fabs(double(l))));
    want += l;
  }
  EXPECT_NEAR(total, double(want), 1e-4);
}

// The accumulating op the models call adds the same sum to what is there.
TEST(LossMath, CpuCrossEntropyOpAddsItsSum) {
  const int64_t N = 9, V = 300;
  const auto xd = RandomRow(int(N * V), 6);
  std::vector<float> x(xd.begin(), xd.end());
  std::vector<int32_t> targets = {3, -1, 299, 0, 150, -1, 7, 8, 9};
  const double once = ops::cross_entropy_host<float>(nullptr, x.data(), targets.data(), N, V);
  double sum = 0.25;
  ops::cross_entropy_forward<float>(nullptr, &sum, x.data(), targets.data(), N, V);
  EXPECT_EQ(sum, 0.25 + once);
  ops::cross_entropy_forward<float>(nullptr, &sum, x.data(), targets.data(), N, V);
  EXPECT_EQ(sum, 0.25 + once + once);
}

// The DiT's per-row MSE op against long double: (sum over rows of the
// row's mean squared error) / divisor, added to what is there.
TEST(LossMath, CpuMseRowsOpMatchesFloat64) {
  const int64_t rows = 5, cols = 37;
  const auto pd = RandomRow(int(rows * cols), 7), qd = RandomRow(int(rows * cols), 8);
  const std::vector<float> p(pd.begin(), pd.end()), q(qd.begin(), qd.end());
  long double want = 0;
  for (int64_t r = 0; r < rows; ++r) {
    long double row = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const long double d = (long double)p[size_t(r * cols + c)] - q[size_t(r * cols + c)];
      row += d * d;
    }
    want += row / cols;
  }
  want /= 4;
  double sum = 1.0;
  ops::mse_rows_forward(&sum, p.data(), q.data(), rows, cols, 4.0);
  EXPECT_NEAR(sum, 1.0 + double(want), 1e-12);
  double none = 2.0;
  ops::mse_rows_forward(&none, p.data(), q.data(), 0, cols, 4.0);
  EXPECT_EQ(none, 2.0);
}

// A float64 AdamW written out independently of math/adamw.h.
struct RefAdamW {
  double m = 0, v = 0;
  void Step(double* p, double g, double lr, double b1, double b2, double eps, double wd, int t) {
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double mhat = m / (1 - std::pow(b1, t)), vhat = v / (1 - std::pow(b2, t));
    *p -= lr * wd * *p;
    *p -= lr * mhat / (std::sqrt(vhat) + eps * 1.0);
  }
};

TEST(AdamWMath, MatchesFloat64AdamW) {
  const float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
  const auto g = RandomRow(50, 9, -1, 1);
  for (bool decay : {false, true}) {
    float p = 0.5f, m = 0, v = 0;
    double pd = 0.5, md = 0, vd = 0;
    double pr = 0.5;
    RefAdamW ref;
    for (int t = 1; t <= 50; ++t) {
      const float gf = float(g[size_t(t - 1)]);
      AdamWUpdate(&p, &m, &v, gf, AdamWDecay(lr, wd, decay), AdamWScalarsAt(lr, b1, b2, eps, t));
      AdamWUpdate(&pd, &md, &vd, double(gf), AdamWDecay<double>(lr, wd, decay),
                  AdamWScalarsAt<double>(lr, b1, b2, eps, t));
      ref.Step(&pr, double(gf), lr, b1, b2, eps, decay ? wd : 0.0, t);
      // sqrt(v)/sqrt(1-b2^t) + eps == sqrt(v/(1-b2^t)) + eps in real arithmetic
      EXPECT_NEAR(pd, pr, 1e-12) << t;
      EXPECT_NEAR(p, pr, 5e-6) << t;
    }
  }
}

// The CPU optimizer is math::AdamWUpdate, bit for bit, with each view's decay.
TEST(AdamWMath, CpuAdamWIsTheMathBitForBit) {
  ParamBuffer pb;
  pb.Add("w", {3, 5}, /*decay=*/true);
  pb.Add("b", {7}, /*decay=*/false);
  pb.Allocate();
  const auto init = RandomRow(int(pb.size()), 11, -1, 1);
  for (int64_t i = 0; i < pb.size(); ++i) pb.params()[size_t(i)] = float(init[size_t(i)]);
  const AdamWConfig cfg{0.9f, 0.95f, 1e-8f, 0.05f};
  AdamW opt(pb.size(), cfg);
  std::vector<float> p = pb.params(), m(p.size(), 0.f), v(p.size(), 0.f);
  const std::vector<uint8_t> mask = AdamWDecayMask(pb);
  ASSERT_EQ(mask.size(), p.size());
  for (int64_t i = 0; i < pb.size(); ++i) EXPECT_EQ(mask[size_t(i)], i < 15 ? 1 : 0);
  for (int step = 1; step <= 4; ++step) {
    const auto g = RandomRow(int(pb.size()), 20 + uint64_t(step), -1, 1);
    for (size_t i = 0; i < p.size(); ++i) pb.grads()[i] = float(g[i]);
    const float lr = 0.01f * float(step);
    opt.Step(pb, lr);
    const AdamWScalars<float> s = AdamWScalarsAt(lr, cfg.beta1, cfg.beta2, cfg.eps, int64_t(step));
    for (size_t i = 0; i < p.size(); ++i)
      AdamWUpdate(&p[i], &m[i], &v[i], float(g[i]), AdamWDecay(lr, cfg.weight_decay, mask[i] != 0), s);
  }
  EXPECT_EQ(p, pb.params());
  EXPECT_EQ(m, opt.m());
  EXPECT_EQ(v, opt.v());
}

// Values computed by common/base/rng.h before it moved into math/rng.h.
TEST(RngMath, SameNumbersAsBefore) {
  EXPECT_EQ(Mix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(Mix64(12345), 0x22118258a9d111a0ULL);
  EXPECT_EQ(HashKey(7), 0x2bf6f81349ecc50eULL);
  EXPECT_EQ(HashKey(7, 1, 2, 3), 0x19ea39dd3e86f88eULL);
  EXPECT_EQ(braid::GenerationKey(7, 4, 99, 1), 0xc05d6723f592b5c4ULL);
  braid::KeyedRng r(braid::HashKey(7, 2));  // the braid:: names callers use
  EXPECT_EQ(r.NextU64(), 0xa3ed941fbc1f4396ULL);
  EXPECT_EQ(r.NextU64(), 0x1f68dde36e0b90d7ULL);
  EXPECT_EQ(r.NextU64(), 0x4174951e56b6fbc6ULL);
  EXPECT_EQ(r.Uniform(), 0.87598146502061014);
  EXPECT_EQ(r.Uniform(), 0.59677651636948059);
  EXPECT_EQ(r.Uniform(), 0.34165903146373999);
  // Normals use libm's log/cos: the formula bit for bit, and the pinned values closely.
  KeyedRng a(HashKey(7, 2)), b(HashKey(7, 2));
  for (int i = 0; i < 6; ++i) b.NextU64();
  for (int i = 0; i < 6; ++i) a.NextU64();
  const double n1 = a.Normal(), n2 = a.Normal(), n3 = a.Normal();
  EXPECT_NEAR(n1, 1.488374845560466, 1e-14);
  EXPECT_NEAR(n2, -0.38980683175541453, 1e-14);
  EXPECT_NEAR(n3, 0.32737172690460742, 1e-14);
  const double u1 = b.Uniform(), u2 = b.Uniform();
  EXPECT_EQ(n1, std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  EXPECT_EQ(a.Below(1000), 922u);
}

}  // namespace
}  // namespace braid::math
