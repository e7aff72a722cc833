// The step's pipeline schedule as pure functions: the 1F1B makespan against
// hand-computed timelines, the lower bound against every order of small
// instances (brute force), and the ordering against the brute-force optimum.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "common/schedule/pipeline.h"

namespace braid::schedule {
namespace {

// encoder {fwd, bwd}, LLM {fwd, bwd}, generator {fwd, bwd}.
MicrobatchCost Mb(double ef, double eb, double lf, double lb, double gf, double gb) {
  return MicrobatchCost{{ef, eb}, {lf, lb}, {gf, gb}};
}

std::vector<MicrobatchCost> Permuted(const std::vector<MicrobatchCost>& mbs, const std::vector<int>& p) {
  std::vector<MicrobatchCost> r;
  for (int i : p) r.push_back(mbs[size_t(i)]);
  return r;
}

bool IsPermutation(std::vector<int> p, size_t n) {
  if (p.size() != n) return false;
  std::sort(p.begin(), p.end());
  for (size_t i = 0; i < n; ++i)
    if (p[i] != int(i)) return false;
  return true;
}

struct BruteForce {
  double best = 0, worst = 0;
  std::vector<int> best_order;  // the first strictly best in next_permutation order
};

BruteForce Brute(const std::vector<MicrobatchCost>& mbs) {
  std::vector<int> p(mbs.size());
  std::iota(p.begin(), p.end(), 0);
  BruteForce r;
  bool first = true;
  do {
    const double t = OneFOneBMakespan(Permuted(mbs, p));
    if (first || t < r.best) {
      r.best = t;
      r.best_order = p;
    }
    r.worst = first ? t : std::max(r.worst, t);
    first = false;
  } while (std::next_permutation(p.begin(), p.end()));
  return r;
}

// Johnson's rule as pipeline.cc applies it: A = encoder F + LLM F, B =
// generator F+B + LLM B + encoder B; A <= B first by increasing A, the rest
// by decreasing B, ties in index order.
std::vector<int> Johnson(const std::vector<MicrobatchCost>& mbs) {
  auto a = [&](int m) { return mbs[size_t(m)].encoder.fwd + mbs[size_t(m)].llm.fwd; };
  auto b = [&](int m) {
    const MicrobatchCost& c = mbs[size_t(m)];
    return c.generator.fwd + c.generator.bwd + c.llm.bwd + c.encoder.bwd;
  };
  std::vector<int> first, second;
  for (int m = 0; m < int(mbs.size()); ++m) (a(m) <= b(m) ? first : second).push_back(m);
  std::stable_sort(first.begin(), first.end(), [&](int x, int y) { return a(x) < a(y); });
  std::stable_sort(second.begin(), second.end(), [&](int x, int y) { return b(x) > b(y); });
  first.insert(first.end(), second.begin(), second.end());
  return first;
}

std::vector<MicrobatchCost> Random(std::mt19937_64& rng, int M) {
  std::uniform_real_distribution<double> u(0.0, 10.0);
  std::uniform_int_distribution<int> coin(0, 9);
  // Now and then a zero, so that empty stages and ties are covered too.
  auto cost = [&]() { return coin(rng) == 0 ? 0.0 : u(rng); };
  std::vector<MicrobatchCost> mbs;
  for (int m = 0; m < M; ++m) mbs.push_back(Mb(cost(), cost(), cost(), cost(), cost(), cost()));
  return mbs;
}

// A straightforward reference: each stage walks its 1F1B list, running
// its next op whenever that op's input has run, until all have.
double ReferenceMakespan(const std::vector<MicrobatchCost>& mbs) {
  const int M = int(mbs.size());
  if (M == 0) return 0;
  auto list = [&](int warmup, bool has_bwd) {
    std::vector<std::pair<bool, int>> ops;  // (forward?, position)
    int f = 0, b = 0;
    for (int i = 0; i < std::min(warmup, M); ++i) ops.push_back({true, f++});
    while (f < M) {
      ops.push_back({true, f++});
      if (has_bwd) ops.push_back({false, b++});
    }
    while (has_bwd && b < M) ops.push_back({false, b++});
    return ops;
  };
  const std::vector<std::pair<bool, int>> enc = list(2, true), llm = list(1, true), gen = list(0, false);
  std::vector<double> enc_f(size_t(M), -1), llm_f(size_t(M), -1), gen_fb(size_t(M), -1), llm_b(size_t(M), -1);
  size_t ie = 0, il = 0, ig = 0;
  double te = 0, tl = 0, tg = 0;
  for (bool progress = true; progress;) {
    progress = false;
    if (ie < enc.size()) {
      const auto [fwd, k] = enc[ie];
      if (fwd) {
        te += mbs[size_t(k)].encoder.fwd;
        enc_f[size_t(k)] = te;
        ++ie, progress = true;
      } else if (llm_b[size_t(k)] >= 0) {
        te = std::max(te, llm_b[size_t(k)]) + mbs[size_t(k)].encoder.bwd;
        ++ie, progress = true;
      }
    }
    if (il < llm.size()) {
      const auto [fwd, k] = llm[il];
      if (fwd && enc_f[size_t(k)] >= 0) {
        tl = std::max(tl, enc_f[size_t(k)]) + mbs[size_t(k)].llm.fwd;
        llm_f[size_t(k)] = tl;
        ++il, progress = true;
      } else if (!fwd && gen_fb[size_t(k)] >= 0) {
        tl = std::max(tl, gen_fb[size_t(k)]) + mbs[size_t(k)].llm.bwd;
        llm_b[size_t(k)] = tl;
        ++il, progress = true;
      }
    }
    if (ig < gen.size()) {
      const int k = gen[ig].second;
      if (llm_f[size_t(k)] >= 0) {
        tg = std::max(tg, llm_f[size_t(k)]) + mbs[size_t(k)].generator.fwd + mbs[size_t(k)].generator.bwd;
        gen_fb[size_t(k)] = tg;
        ++ig, progress = true;
      }
    }
  }
  EXPECT_EQ(ie + il + ig, enc.size() + llm.size() + gen.size()) << "reference deadlocked";
  return std::max({te, tl, tg});
}

// The bound must be at least the required terms: the longest chain, and
// each stage's work plus its least head and least tail.
double RequiredTerms(const std::vector<MicrobatchCost>& mbs) {
  double chain = 0, we = 0, wl = 0, wg = 0;
  double head_l = 1e300, tail_l = 1e300, head_g = 1e300, tail_g = 1e300;
  for (const MicrobatchCost& c : mbs) {
    const double g = c.generator.fwd + c.generator.bwd;
    chain = std::max(chain, c.encoder.fwd + c.llm.fwd + g + c.llm.bwd + c.encoder.bwd);
    we += c.encoder.fwd + c.encoder.bwd;
    wl += c.llm.fwd + c.llm.bwd;
    wg += g;
    head_l = std::min(head_l, c.encoder.fwd);
    tail_l = std::min(tail_l, c.encoder.bwd);
    head_g = std::min(head_g, c.encoder.fwd + c.llm.fwd);
    tail_g = std::min(tail_g, c.llm.bwd + c.encoder.bwd);
  }
  return mbs.empty() ? 0 : std::max({chain, we, wl + head_l + tail_l, wg + head_g + tail_g});
}

TEST(OneFOneBMakespan, EmptyIsZero) {
  EXPECT_EQ(OneFOneBMakespan({}), 0.0);
  EXPECT_EQ(MakespanLowerBound({}), 0.0);
  EXPECT_TRUE(OrderMicrobatches({}).empty());
}

TEST(OneFOneBMakespan, OneMicrobatchIsItsChain) {
  // encF 1 + llmF 2 + gen (3 + 4) + llmB 5 + encB 6.
  const std::vector<MicrobatchCost> mbs = {Mb(1, 6, 2, 5, 3, 4)};
  EXPECT_DOUBLE_EQ(OneFOneBMakespan(mbs), 21);
  EXPECT_DOUBLE_EQ(MakespanLowerBound(mbs), 21);
  EXPECT_EQ(OrderMicrobatches(mbs), std::vector<int>{0});
}

// M = 2. Orders: encoder F0 F1 B0 B1 (w = 2), LLM F0 F1 B0 B1 (w = 1, then
// F1 B0, then B1), generator FB0 FB1. Intervals [start, end]:
//   mb0: encF 1, llmF 2, gen 1+1, llmB 3, encB 1
//   mb1: encF 2, llmF 1, gen 2+1, llmB 1, encB 2
//   order (0, 1):
//     enc F0 [0,1]   enc F1 [1,3]
//     llm F0 [1,3]   (input encF0 at 1)
//     llm F1 [3,4]   (stage free at 3, input encF1 at 3)
//     gen 0  [3,5]   (input llmF0 at 3)
//     gen 1  [5,8]   (stage free at 5, input llmF1 at 4)
//     llm B0 [5,8]   (stage free at 4, input gen0 at 5)
//     llm B1 [8,9]   (stage free at 8, input gen1 at 8)
//     enc B0 [8,9]   (stage free at 3, input llmB0 at 8)
//     enc B1 [9,11]  -> makespan 11
//   order (1, 0):
//     enc F(mb1) [0,2]  enc F(mb0) [2,3]
//     llm F(mb1) [2,3]  llm F(mb0) [3,5]
//     gen mb1 [3,6]     gen mb0 [6,8]
//     llm B(mb1) [6,7]  (free 5, gen at 6)
//     llm B(mb0) [8,11] (free 7, gen at 8)
//     enc B(mb1) [7,9]  enc B(mb0) [11,12] -> makespan 12
TEST(OneFOneBMakespan, TwoMicrobatchesByHand) {
  const std::vector<MicrobatchCost> mbs = {Mb(1, 1, 2, 3, 1, 1), Mb(2, 2, 1, 1, 2, 1)};
  EXPECT_DOUBLE_EQ(OneFOneBMakespan(mbs), 11);
  EXPECT_DOUBLE_EQ(OneFOneBMakespan(Permuted(mbs, {1, 0})), 12);
  EXPECT_EQ(OrderMicrobatches(mbs), (std::vector<int>{0, 1}));
  EXPECT_LE(MakespanLowerBound(mbs), 11);
}

// M = 3. Orders: encoder F0 F1 F2 B0 B1 B2, LLM F0 F1 B0 F2 B1 B2,
// generator FB0 FB1 FB2.
//   mb0: encF 1, llmF 1, gen 1+1, llmB 1, encB 1
//   mb1: encF 2, llmF 3, gen 1+0, llmB 2, encB 1
//   mb2: encF 1, llmF 2, gen 2+1, llmB 1, encB 2
//   enc F0 [0,1]  F1 [1,3]  F2 [3,4]
//   llm F0 [1,2]
//   gen 0  [2,4]
//   llm F1 [3,6]   (free 2, input encF1 at 3)
//   llm B0 [6,7]   (free 6, gen0 at 4: the LLM order holds B0 behind F1)
//   gen 1  [6,7]   (free 4, input llmF1 at 6)
//   llm F2 [7,9]   (free 7, input encF2 at 4)
//   enc B0 [7,8]   (free 4, input llmB0 at 7)
//   llm B1 [9,11]  (free 9, gen1 at 7)
//   gen 2  [9,12]  (free 7, input llmF2 at 9)
//   llm B2 [12,13] (free 11, gen2 at 12)
//   enc B1 [11,12] (free 8, input llmB1 at 11)
//   enc B2 [13,15] (free 12, input llmB2 at 13) -> makespan 15
TEST(OneFOneBMakespan, ThreeMicrobatchesByHand) {
  const std::vector<MicrobatchCost> mbs = {Mb(1, 1, 1, 1, 1, 1), Mb(2, 1, 3, 2, 1, 0), Mb(1, 2, 2, 1, 2, 1)};
  EXPECT_DOUBLE_EQ(OneFOneBMakespan(mbs), 15);
  EXPECT_LE(MakespanLowerBound(mbs), Brute(mbs).best);
}

// The encoder's order makes it wait: with cheap encoder work and a long
// LLM/generator chain, encoder B0 (after F0 F1 F2) starts only when LLM B0
// is done, and B1 only after F3.
//   all four: encF 1, llmF 1, gen 5+0, llmB 1, encB 1
//   enc F0 F1 F2 at [0,1] [1,2] [2,3]; llm F0 [1,2], F1 [2,3]; gen0 [2,7]
//   llm B0 [7,8]; enc B0 [8,9]; enc F3 [9,10] (only now: it follows B0)
//   llm F2 [8,9]; gen1 [7,12]; llm B1 [12,13]; llm F3 [13,14] (free 13,
//   encF3 at 10); gen2 [12,17]; llm B2 [17,18]; gen3 [17,22]; llm B3
//   [22,23]; enc B1 [13,14], B2 [18,19], B3 [23,24] -> makespan 24, which
//   is the generator's work 20 + head 2 + tail 2.
TEST(OneFOneBMakespan, EncoderWaitsForItsOrder) {
  const std::vector<MicrobatchCost> mbs(4, Mb(1, 1, 1, 1, 5, 0));
  EXPECT_DOUBLE_EQ(OneFOneBMakespan(mbs), 24);
  EXPECT_DOUBLE_EQ(MakespanLowerBound(mbs), 24);
}

// Identical microbatches, LLM-bound: encF 1, llmF 3, gen 5, llmB 4, encB 2.
// LLM F0 [1,4] F1 [4,7]; gen0 [4,9] so B0 starts at 9 (2 idle); steadily
// gen k has B(k-1) + F(k+1) = 7 >= 5 to run, so no more idle until the end,
// where B(M-1) waits 5 - 4 = 1 for the last gen. Makespan = head 1 + LLM
// work 7M + 2 + 1 + tail 2 = 7M + 6 (M >= 2); the bound is tight.
TEST(OneFOneBMakespan, IdenticalMicrobatches) {
  for (int M = 2; M <= 12; ++M) {
    const std::vector<MicrobatchCost> mbs(size_t(M), Mb(1, 2, 3, 4, 2, 3));
    EXPECT_DOUBLE_EQ(OneFOneBMakespan(mbs), 7 * M + 6) << M;
    EXPECT_DOUBLE_EQ(MakespanLowerBound(mbs), 7 * M + 6) << M;
    std::vector<int> identity(static_cast<size_t>(M));
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_EQ(OrderMicrobatches(mbs), identity) << M;  // nothing beats the identity
  }
}

TEST(OneFOneBMakespan, MatchesReference) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 400; ++i) {
    const std::vector<MicrobatchCost> mbs = Random(rng, 1 + i % 20);
    EXPECT_NEAR(OneFOneBMakespan(mbs), ReferenceMakespan(mbs), 1e-9) << "instance " << i;
  }
}

TEST(OneFOneBMakespan, ZeroCostStages) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.5, 4.0);
  for (int M = 1; M <= 9; ++M) {
    std::vector<MicrobatchCost> llm_only, enc_only, gen_only, none(static_cast<size_t>(M));
    double wl = 0, we = 0, wg = 0;
    for (int m = 0; m < M; ++m) {
      const double a = u(rng), b = u(rng);
      llm_only.push_back(Mb(0, 0, a, b, 0, 0));
      enc_only.push_back(Mb(a, b, 0, 0, 0, 0));
      gen_only.push_back(Mb(0, 0, 0, 0, a, b));
      wl += a + b;
      we += a + b;
      wg += a + b;
    }
    // With free inputs a lone busy stage never waits: its makespan is its work.
    EXPECT_NEAR(OneFOneBMakespan(llm_only), wl, 1e-9) << M;
    EXPECT_NEAR(OneFOneBMakespan(enc_only), we, 1e-9) << M;
    EXPECT_NEAR(OneFOneBMakespan(gen_only), wg, 1e-9) << M;
    EXPECT_NEAR(MakespanLowerBound(llm_only), wl, 1e-9) << M;
    EXPECT_NEAR(MakespanLowerBound(enc_only), we, 1e-9) << M;
    EXPECT_NEAR(MakespanLowerBound(gen_only), wg, 1e-9) << M;
    EXPECT_EQ(OneFOneBMakespan(none), 0.0);
    EXPECT_EQ(MakespanLowerBound(none), 0.0);
    EXPECT_TRUE(IsPermutation(OrderMicrobatches(none), size_t(M)));
  }
}

// The bound holds for every order, and the ordering finds the optimum.
TEST(MakespanLowerBound, BelowEveryOrderAndOrderingIsOptimal) {
  std::mt19937_64 rng(20240917);
  double ratio_sum = 0;
  int instances = 0;
  for (int i = 0; i < 300; ++i) {
    const int M = 1 + i % 6;
    const std::vector<MicrobatchCost> mbs = Random(rng, M);
    const BruteForce bf = Brute(mbs);
    const double lb = MakespanLowerBound(mbs);
    // Every order's makespan >= bf.best (the brute force saw them all).
    EXPECT_LE(lb, bf.best * (1 + 1e-12)) << "instance " << i << " M=" << M;
    EXPECT_GE(lb, RequiredTerms(mbs) * (1 - 1e-12)) << "instance " << i;
    const std::vector<int> p = OrderMicrobatches(mbs);
    ASSERT_TRUE(IsPermutation(p, size_t(M)));
    EXPECT_EQ(OneFOneBMakespan(Permuted(mbs, p)), bf.best) << "instance " << i;
    EXPECT_EQ(p, bf.best_order) << "instance " << i;
    if (lb > 0) {
      ratio_sum += bf.best / lb;
      ++instances;
    }
  }
  std::printf("mean best makespan / lower bound over %d instances: %.4f\n", instances, ratio_sum / instances);
}

TEST(OrderMicrobatches, LocalSearchNoWorseThanIdentityOrJohnson) {
  std::mt19937_64 rng(11);
  double ratio_sum = 0;
  for (int i = 0; i < 40; ++i) {
    const std::vector<MicrobatchCost> mbs = Random(rng, 12);
    const std::vector<int> p = OrderMicrobatches(mbs);
    ASSERT_TRUE(IsPermutation(p, mbs.size()));
    const double t = OneFOneBMakespan(Permuted(mbs, p));
    EXPECT_LE(t, OneFOneBMakespan(mbs)) << i;
    EXPECT_LE(t, OneFOneBMakespan(Permuted(mbs, Johnson(mbs)))) << i;
    EXPECT_LE(MakespanLowerBound(mbs), t * (1 + 1e-12)) << i;
    EXPECT_EQ(OrderMicrobatches(mbs), p) << i;  // deterministic
    ratio_sum += t / MakespanLowerBound(mbs);
  }
  std::printf("M=12: mean local-search makespan / lower bound: %.4f\n", ratio_sum / 40);
}

}  // namespace
}  // namespace braid::schedule
