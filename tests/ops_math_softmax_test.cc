// The online softmax (common/ops/math/softmax.h) that the CUDA attention
// runs: states of random splits of a row, merged, against a two-pass
// softmax in double; masked (-inf) entries, rows of length 1 and fully
// masked rows; the kernel's tile update (rescale the running sum and a
// weighted accumulator to the new max); and the CPU attention's saved
// log-sum-exp, which uses a two-pass softmax of its own.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "common/ops/cpu/attention.h"
#include "common/ops/math/softmax.h"

namespace braid::math {
namespace {

constexpr float kInf = INFINITY;

// log(sum exp(x)) in double, two passes; -inf when every entry is.
double TwoPassLse(const std::vector<float>& x) {
  double m = -INFINITY;
  for (float v : x) m = std::max(m, static_cast<double>(v));
  if (m == -INFINITY) return -INFINITY;
  double sum = 0;
  for (float v : x) sum += std::exp(static_cast<double>(v) - m);
  return m + std::log(sum);
}

SoftmaxState<float> PushAll(const std::vector<float>& x, size_t b, size_t e) {
  SoftmaxState<float> s = SoftmaxEmpty<float>();
  for (size_t i = b; i < e; ++i) s = SoftmaxPush(s, x[i]);
  return s;
}

// A random row of n entries in [-30, 30], each masked with probability `masked`.
std::vector<float> RandomRow(std::mt19937_64& g, size_t n, double masked) {
  std::uniform_real_distribution<float> val(-30.f, 30.f);
  std::bernoulli_distribution mask(masked);
  std::vector<float> x(n);
  for (auto& v : x) v = mask(g) ? -kInf : val(g);
  return x;
}

// Random cut points 0 = c_0 < ... < c_k = n (empty parts allowed).
std::vector<size_t> RandomCuts(std::mt19937_64& g, size_t n) {
  std::uniform_int_distribution<size_t> pos(0, n);
  std::vector<size_t> cuts{0, n};
  const size_t k = std::uniform_int_distribution<size_t>(0, 6)(g);
  for (size_t i = 0; i < k; ++i) cuts.push_back(pos(g));
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

void ExpectLseNear(float got, double want) {
  if (want == -INFINITY) {
    EXPECT_EQ(got, -kInf);
  } else {
    EXPECT_NEAR(got, want, 1e-5 * (1 + std::abs(want)));
  }
}

TEST(OnlineSoftmax, MergedRandomSplitsMatchTwoPassDouble) {
  std::mt19937_64 g(7);
  for (int trial = 0; trial < 2000; ++trial) {
    const size_t n = std::uniform_int_distribution<size_t>(1, 300)(g);
    const std::vector<float> x = RandomRow(g, n, trial % 3 == 0 ? 0.5 : 0.1);
    const double want = TwoPassLse(x);
    const std::vector<size_t> cuts = RandomCuts(g, n);
    std::vector<SoftmaxState<float>> parts;
    for (size_t c = 0; c + 1 < cuts.size(); ++c) parts.push_back(PushAll(x, cuts[c], cuts[c + 1]));
    // Left to right, as the kernel goes over key tiles.
    SoftmaxState<float> left = SoftmaxEmpty<float>();
    for (const auto& p : parts) left = SoftmaxMerge(left, p);
    ExpectLseNear(SoftmaxLse(left), want);
    // Pairwise tree: the merge is order-free up to rounding.
    while (parts.size() > 1) {
      std::vector<SoftmaxState<float>> next;
      for (size_t i = 0; i + 1 < parts.size(); i += 2) next.push_back(SoftmaxMerge(parts[i], parts[i + 1]));
      if (parts.size() % 2 == 1) next.push_back(parts.back());
      parts = next;
    }
    ExpectLseNear(SoftmaxLse(parts[0]), want);
    EXPECT_FALSE(std::isnan(left.sum));
    // The probabilities recovered from the lse sum to 1.
    if (want != -INFINITY) {
      double total = 0;
      for (float v : x) total += SoftmaxScale(v, SoftmaxLse(left));
      EXPECT_NEAR(total, 1.0, 1e-4);
    }
  }
}

TEST(OnlineSoftmax, RowOfLengthOne) {
  for (float v : {-3.5f, 0.f, 17.25f}) {
    const SoftmaxState<float> s = SoftmaxPush(SoftmaxEmpty<float>(), v);
    EXPECT_EQ(s.max, v);
    EXPECT_EQ(s.sum, 1.f);
    EXPECT_EQ(SoftmaxLse(s), v);  // v + log(1), exactly
    EXPECT_EQ(SoftmaxScale(v, SoftmaxLse(s)), 1.f);
  }
  EXPECT_EQ(SoftmaxLse(SoftmaxPush(SoftmaxEmpty<float>(), -kInf)), -kInf);
}

TEST(OnlineSoftmax, MaskedAndEmptyStatesAreHarmless) {
  const SoftmaxState<float> empty = SoftmaxEmpty<float>();
  const SoftmaxState<float> masked = PushAll({-kInf, -kInf, -kInf}, 0, 3);
  EXPECT_EQ(masked.max, -kInf);
  EXPECT_EQ(masked.sum, 0.f);
  EXPECT_EQ(SoftmaxLse(masked), -kInf);
  const SoftmaxState<float> both = SoftmaxMerge(masked, empty);
  EXPECT_EQ(both.max, -kInf);
  EXPECT_EQ(both.sum, 0.f);  // not NaN from -inf - -inf
  EXPECT_EQ(SoftmaxScale(-kInf, -kInf), 0.f);
  // The empty state is an identity of the merge, bit for bit, on both sides.
  const SoftmaxState<float> s = PushAll({1.5f, -2.f, 4.f}, 0, 3);
  for (const auto& m : {SoftmaxMerge(empty, s), SoftmaxMerge(s, empty), SoftmaxMerge(s, masked)}) {
    EXPECT_EQ(m.max, s.max);
    EXPECT_EQ(m.sum, s.sum);
  }
}

// The CUDA forward's tile step: new max m' = max(m, tile max), running sum
// and accumulator scaled by SoftmaxScale(m, m'), tile weights
// SoftmaxScale(x_j, m'). The normalised accumulator is the softmax-weighted
// mean of the values.
TEST(OnlineSoftmax, TileUpdateMatchesSoftmaxWeightedMean) {
  std::mt19937_64 g(11);
  std::uniform_real_distribution<float> val(-1.f, 1.f);
  for (int trial = 0; trial < 500; ++trial) {
    const size_t n = std::uniform_int_distribution<size_t>(1, 200)(g);
    const size_t tile = std::uniform_int_distribution<size_t>(1, 64)(g);
    std::vector<float> x = RandomRow(g, n, 0.2);
    x[std::uniform_int_distribution<size_t>(0, n - 1)(g)] = val(g);  // at least one unmasked
    std::vector<float> v(n);
    for (auto& e : v) e = val(g);
    SoftmaxState<float> st = SoftmaxEmpty<float>();
    float acc = 0.f;
    for (size_t k0 = 0; k0 < n; k0 += tile) {
      const size_t k1 = std::min(n, k0 + tile);
      float tile_max = -kInf;
      for (size_t j = k0; j < k1; ++j) tile_max = std::max(tile_max, x[j]);
      const float m = std::max(st.max, tile_max);
      const float alpha = SoftmaxScale(st.max, m);
      float sum = 0.f;
      acc *= alpha;
      for (size_t j = k0; j < k1; ++j) {
        const float p = SoftmaxScale(x[j], m);
        sum += p;
        acc += p * v[j];
      }
      st = {m, st.sum * alpha + sum};
    }
    const double lse = TwoPassLse(x);
    ExpectLseNear(SoftmaxLse(st), lse);
    double mean = 0;
    for (size_t j = 0; j < n; ++j) mean += std::exp(static_cast<double>(x[j]) - lse) * v[j];
    EXPECT_NEAR(acc / st.sum, mean, 1e-5);
  }
}

// The CPU attention's lse (two-pass over a GEMM's scores) agrees with the
// online softmax over 32-key tiles of the same scores, causal or not.
TEST(OnlineSoftmax, MatchesCpuAttentionLse) {
  std::mt19937_64 g(3);
  std::uniform_real_distribution<float> val(-2.f, 2.f);
  const std::vector<int32_t> cu{0, 1, 8, 73, 173};
  const int num_seqs = 4;
  const int64_t NH = 3, HD = 16, C = NH * HD, N = cu.back();
  std::vector<float> qkv(static_cast<size_t>(N * 3 * C));
  for (auto& e : qkv) e = val(g);
  for (bool causal : {false, true}) {
    std::vector<float> out(static_cast<size_t>(N * C)), lse(static_cast<size_t>(N * NH));
    ops::attention_forward(out.data(), lse.data(), qkv.data(), cu.data(), num_seqs, /*max_seqlen=*/0, NH, HD, causal);
    const float scale = 1.f / std::sqrt(static_cast<float>(HD));
    for (int s = 0; s < num_seqs; ++s)
      for (int64_t h = 0; h < NH; ++h)
        for (int64_t i = cu[s]; i < cu[s + 1]; ++i) {
          SoftmaxState<float> st = SoftmaxEmpty<float>();
          for (int64_t k0 = cu[s]; k0 < cu[s + 1]; k0 += 32) {
            SoftmaxState<float> tile = SoftmaxEmpty<float>();
            for (int64_t j = k0; j < std::min<int64_t>(cu[s + 1], k0 + 32); ++j) {
              float dot = 0.f;
              for (int64_t d = 0; d < HD; ++d) dot += qkv[i * 3 * C + h * HD + d] * qkv[j * 3 * C + C + h * HD + d];
              tile = SoftmaxPush(tile, causal && j > i ? -kInf : scale * dot);
            }
            st = SoftmaxMerge(st, tile);
          }
          EXPECT_NEAR(SoftmaxLse(st), lse[i * NH + h], 1e-5 * (1 + std::abs(lse[i * NH + h])))
              << "seq " << s << " head " << h << " row " << i << (causal ? " causal" : "");
        }
  }
}

}  // namespace
}  // namespace braid::math
