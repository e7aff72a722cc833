// Rank arithmetic, layer splits and parameter shards (common/parallel):
// pure functions, checked on the worked examples of layout.h and by brute
// force over small layouts.
#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <vector>

#include "common/parallel/layout.h"
#include "common/parallel/boundary.h"
#include "common/parallel/shard.h"

namespace braid::parallel {
namespace {

TEST(RankLayout, WorkedExampleFromTheHeader) {
  const Layout l{2, 3, 2};
  EXPECT_EQ(l.world(), 12);
  EXPECT_EQ(CoordOf(l, 7), (Coord{0, 1, 1}));
  EXPECT_EQ(RankOf(l, {1, 2, 0}), 5);
  EXPECT_EQ(TpGroup(l, 7), (std::vector<int>{6, 7, 8}));
  EXPECT_EQ(DpGroup(l, 7), (std::vector<int>{7, 10}));
  EXPECT_EQ(PpGroup(l, 7), (std::vector<int>{1, 7}));
  EXPECT_EQ(ModelParallelGroup(l, 7), (std::vector<int>{0, 1, 2, 6, 7, 8}));
}

TEST(RankLayout, CoordinatesRoundTripAndGroupsPartitionTheRanks) {
  for (int dp = 1; dp <= 3; ++dp)
    for (int tp = 1; tp <= 3; ++tp)
      for (int pp = 1; pp <= 3; ++pp) {
        const Layout l{dp, tp, pp};
        std::set<std::vector<int>> tp_groups, dp_groups, pp_groups, mp_groups;
        for (int r = 0; r < l.world(); ++r) {
          const Coord c = CoordOf(l, r);
          EXPECT_EQ(RankOf(l, c), r);
          const std::vector<int> t = TpGroup(l, r), d = DpGroup(l, r), p = PpGroup(l, r);
          ASSERT_EQ(int(t.size()), tp);
          ASSERT_EQ(int(d.size()), dp);
          ASSERT_EQ(int(p.size()), pp);
          EXPECT_EQ(t[size_t(c.tp)], r);  // a rank's position in a group is its coordinate
          EXPECT_EQ(d[size_t(c.dp)], r);
          EXPECT_EQ(p[size_t(c.pp)], r);
          for (int x : t) EXPECT_TRUE(CoordOf(l, x).dp == c.dp && CoordOf(l, x).pp == c.pp);
          for (int x : d) EXPECT_TRUE(CoordOf(l, x).tp == c.tp && CoordOf(l, x).pp == c.pp);
          for (int x : p) EXPECT_TRUE(CoordOf(l, x).tp == c.tp && CoordOf(l, x).dp == c.dp);
          for (int x : ModelParallelGroup(l, r)) EXPECT_EQ(CoordOf(l, x).dp, c.dp);
          tp_groups.insert(t);
          dp_groups.insert(d);
          pp_groups.insert(p);
          mp_groups.insert(ModelParallelGroup(l, r));
        }
        EXPECT_EQ(int(tp_groups.size()), dp * pp);
        EXPECT_EQ(int(dp_groups.size()), tp * pp);
        EXPECT_EQ(int(pp_groups.size()), dp * tp);
        EXPECT_EQ(int(mp_groups.size()), dp);
      }
}

TEST(RankLayout, TpIsFastestSoAStageIsAContiguousBlock) {
  const Layout l{2, 2, 3};
  for (int r = 0; r < l.world(); ++r) EXPECT_EQ(CoordOf(l, r).pp, r / 4);
  EXPECT_FALSE(CheckLayout({1, 0, 1}).ok());
  EXPECT_TRUE(CheckLayout(l).ok());
}

TEST(EvenPart, CoversTheRangeWithPartsDifferingByAtMostOne) {
  for (int64_t n : {0, 1, 5, 264, 265, 266})
    for (int parts = 1; parts <= 5; ++parts) {
      int64_t next = 0, lo = n, hi = 0;
      for (int i = 0; i < parts; ++i) {
        const Range r = EvenPart(n, parts, i);
        EXPECT_EQ(r.begin, next);
        next = r.end;
        lo = std::min(lo, r.size());
        hi = std::max(hi, r.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(hi - lo, 1);
    }
  EXPECT_EQ(EvenPart(266, 3, 0), (Range{0, 89}));
  EXPECT_EQ(EvenPart(266, 3, 2), (Range{178, 266}));
}

TEST(SplitLayers, EvenWithTheExtraLayersFirst) {
  auto s = SplitLayers(7, 3);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (std::vector<int>{0, 3, 5, 7}));
  s = SplitLayers(4, 4);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(SplitLayers, ExplicitUnevenSplits) {
  auto s = SplitLayers(5, 2, {4, 1});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (std::vector<int>{0, 4, 5}));
}

TEST(SplitLayers, BadSplitsNameTheField) {
  const std::string f = "parallel.llm.layers";
  auto s = SplitLayers(2, 3, {}, f);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind(f + ": 2 layers cannot fill 3", 0), 0u) << s.status().message();
  s = SplitLayers(5, 2, {2, 2}, f);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("sum to 4, the model has 5"), std::string::npos) << s.status().message();
  s = SplitLayers(5, 2, {5, 0}, f);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind(f + "[1]: 0 layers", 0), 0u) << s.status().message();
  s = SplitLayers(5, 2, {5}, f);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("1 entries for 2 pipeline stages"), std::string::npos);
}

TEST(CheckDivides, NamesBothFields) {
  EXPECT_TRUE(CheckDivides("parallel.llm.tp", 3, "model.llm.heads", 6).ok());
  const Status s = CheckDivides("parallel.llm.tp", 3, "model.llm.heads", 4);
  EXPECT_EQ(s.message(), "parallel.llm.tp: 3 does not divide model.llm.heads 4");
}

std::vector<float> Iota(int64_t n) {
  std::vector<float> v(size_t(n), 0.0f);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

// Every part's slice, inserted back, rebuilds the full tensor exactly once.
void ExpectPartsTile(const std::vector<int64_t>& shape, ShardSpec spec) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  const std::vector<float> full = Iota(n);
  std::vector<float> rebuilt(size_t(n), -1.0f);
  int64_t total = 0;
  for (int i = 0; i < spec.parts; ++i) {
    spec.index = i;
    const std::vector<int64_t> local_shape = LocalShape(shape, spec);
    int64_t m = 1;
    for (int64_t d : local_shape) m *= d;
    total += m;
    std::vector<float> local(static_cast<size_t>(m));
    ExtractShard(full.data(), shape, spec, local.data());
    InsertShard(local.data(), shape, spec, rebuilt.data());
  }
  EXPECT_EQ(total, n);
  EXPECT_EQ(rebuilt, full);
}

TEST(Shard, PartsTileTheFullTensor) {
  ExpectPartsTile({18, 4}, SplitRows(3, 0, 3));         // fused qkv rows, 3 blocks
  ExpectPartsTile({12}, SplitRows(2, 0, 3));            // its bias
  ExpectPartsTile({8, 4}, SplitRows(2, 0, 2));          // SwiGLU [a|b]
  ExpectPartsTile({4, 6}, SplitCols(3, 0));             // row-parallel weight
  ExpectPartsTile({266, 2}, SplitRows(3, 0, 1, false)); // vocabulary, uneven
}

TEST(Shard, QkvRowsOfARankAreItsHeadsOfQThenKThenV) {
  // [q|k|v] each 4 rows (4 heads of 1 row), 2 columns; rank 1 of 2 holds heads 2-3.
  const std::vector<float> full = Iota(12 * 2);
  const ShardSpec s = SplitRows(2, 1, 3);
  EXPECT_EQ(LocalShape({12, 2}, s), (std::vector<int64_t>{6, 2}));
  std::vector<float> local(12);
  ExtractShard(full.data(), {12, 2}, s, local.data());
  // rows 2,3 (q), 6,7 (k), 10,11 (v)
  EXPECT_EQ(local, (std::vector<float>{4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23}));
}

TEST(Shard, ColumnsOfARowParallelWeight) {
  const std::vector<float> full = Iota(2 * 6);
  std::vector<float> local(4);
  ExtractShard(full.data(), {2, 6}, SplitCols(3, 1), local.data());
  EXPECT_EQ(local, (std::vector<float>{2, 3, 8, 9}));
}

TEST(Shard, ReplicatedIsTheWholeTensor) {
  const ShardSpec s;
  EXPECT_TRUE(s.replicated());
  EXPECT_EQ(LocalShape({3, 5}, s), (std::vector<int64_t>{3, 5}));
  ExpectPartsTile({3, 5}, s);
}

}  // namespace
}  // namespace braid::parallel

namespace braid::parallel {
namespace {

TEST(Boundary, WorkedExampleEncoderTp2ToLlmTp3) {
  const Layout enc{3, 2, 1}, llm{2, 3, 1};
  // Forward: LLM replica 1's TP ranks receive from encoder replica 2.
  EXPECT_EQ(BoundarySource(enc, 2, 0, 0), RankOf(enc, {2, 0, 0}));
  EXPECT_EQ(BoundarySource(enc, 2, 0, 1), RankOf(enc, {2, 1, 0}));
  EXPECT_EQ(BoundarySource(enc, 2, 0, 2), RankOf(enc, {2, 0, 0}));
  EXPECT_EQ(BoundaryDestinations(llm, 1, 0, 2, 0), (std::vector<int>{RankOf(llm, {1, 0, 0}), RankOf(llm, {1, 2, 0})}));
  EXPECT_EQ(BoundaryDestinations(llm, 1, 0, 2, 1), (std::vector<int>{RankOf(llm, {1, 1, 0})}));
  // Backward: LLM TP rank 2 has no encoder rank to serve.
  EXPECT_TRUE(BoundaryDestinations(enc, 0, 0, 3, 2).empty());
}

// For any pair of layouts, every receiver rank of a replica gets each unit
// from exactly one sender rank, and that sender lists it as a destination.
TEST(Boundary, EveryReceiverGetsExactlyOneCopyForOddLayouts) {
  for (int src_tp = 1; src_tp <= 5; ++src_tp)
    for (int dst_tp = 1; dst_tp <= 5; ++dst_tp)
      for (int dst_pp = 1; dst_pp <= 2; ++dst_pp) {
        const Layout src{3, src_tp, 1}, dst{2, dst_tp, dst_pp};
        const int stage = dst_pp - 1;  // e.g. the LLM's last stage
        for (int sd = 0; sd < src.dp; ++sd)
          for (int dd = 0; dd < dst.dp; ++dd) {
            std::vector<int> copies(size_t(dst.world()), 0);
            for (int st = 0; st < src_tp; ++st)
              for (int d : BoundaryDestinations(dst, dd, stage, src_tp, st)) {
                ++copies[size_t(d)];
                const Coord c = CoordOf(dst, d);
                EXPECT_EQ(c.dp, dd);
                EXPECT_EQ(c.pp, stage);
                EXPECT_EQ(BoundarySource(src, sd, 0, c.tp), RankOf(src, {sd, st, 0}));
              }
            for (int r = 0; r < dst.world(); ++r) {
              const Coord c = CoordOf(dst, r);
              EXPECT_EQ(copies[size_t(r)], c.dp == dd && c.pp == stage ? 1 : 0)
                  << "src tp " << src_tp << " dst tp " << dst_tp << " rank " << r;
            }
          }
      }
}

}  // namespace
}  // namespace braid::parallel
