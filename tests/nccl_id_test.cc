// The pure half of the NCCL bootstrap (common/comm/nccl_id.h): the unique
// id's hex text, the world key, and the DP/TP/MP split colours and keys
// checked against common/parallel's groups (the Gloo groups' members and
// ranks) for several multi-module jobs.
#include "common/comm/nccl_id.h"

#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "common/parallel/layout.h"

namespace braid::comm {
namespace {

NcclUniqueIdBytes Pattern(int seed) {
  NcclUniqueIdBytes id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>((i * 37 + seed * 11) & 0xff);
  return id;
}

TEST(NcclIdTest, HexRoundTrip) {
  for (int seed : {0, 1, 7, 200}) {
    const NcclUniqueIdBytes id = Pattern(seed);
    const std::string text = EncodeNcclUniqueId(id);
    ASSERT_EQ(text.size(), 2 * kNcclUniqueIdBytes);
    auto back = DecodeNcclUniqueId(text);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, id);
  }
  NcclUniqueIdBytes all{};
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint8_t>(i * 2 + 1);  // every nibble value
  all[0] = 0x00;
  all[1] = 0xff;
  const std::string text = EncodeNcclUniqueId(all);
  EXPECT_EQ(text.substr(0, 6), "00ff05");
  EXPECT_EQ(*DecodeNcclUniqueId(text), all);
}

TEST(NcclIdTest, DecodeAcceptsUpperCase) {
  const NcclUniqueIdBytes id = Pattern(3);
  std::string text = EncodeNcclUniqueId(id);
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto back = DecodeNcclUniqueId(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, id);
}

TEST(NcclIdTest, MalformedTextRejectedWithClearMessage) {
  const std::string good = EncodeNcclUniqueId(Pattern(5));

  auto empty = DecodeNcclUniqueId("", "nccl id under key 'job/nccl/world'");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(), "nccl id under key 'job/nccl/world': expected 256 hex digits, got 0 characters");

  auto short_text = DecodeNcclUniqueId(good.substr(0, 255));
  ASSERT_FALSE(short_text.ok());
  EXPECT_NE(short_text.status().message().find("expected 256 hex digits, got 255 characters"), std::string::npos);

  auto long_text = DecodeNcclUniqueId(good + "0");
  ASSERT_FALSE(long_text.ok());
  EXPECT_NE(long_text.status().message().find("got 257 characters"), std::string::npos);

  std::string bad = good;
  bad[17] = 'g';
  auto bad_digit = DecodeNcclUniqueId(bad, "id");
  ASSERT_FALSE(bad_digit.ok());
  EXPECT_EQ(bad_digit.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_digit.status().message(), "id: not a hex digit at position 17: 'g'");

  bad = good;
  bad[0] = '\n';
  auto control = DecodeNcclUniqueId(bad, "id");
  ASSERT_FALSE(control.ok());
  EXPECT_EQ(control.status().message(), "id: not a hex digit at position 0: byte 10");

  bad = good;
  bad[255] = ' ';
  EXPECT_FALSE(DecodeNcclUniqueId(bad).ok());
}

TEST(NcclIdTest, WorldKeyIsUnderTheAttemptPrefix) {
  EXPECT_EQ(NcclWorldKey("job-7/attempt-2/"), "job-7/attempt-2/nccl/world");
  EXPECT_EQ(NcclWorldKey(""), "nccl/world");
}

TEST(NcclIdTest, PlacesAndGlobalRanks) {
  const std::vector<NcclModule> job = {
      {"encoder", {2, 1, 1}}, {"llm", {1, 2, 2}}, {"generator", {1, 1, 1}}};
  EXPECT_EQ(NcclWorldSize(job), 2 + 4 + 1);
  const int expect_module[] = {0, 0, 1, 1, 1, 1, 2};
  const int expect_rank[] = {0, 1, 0, 1, 2, 3, 0};
  for (int g = 0; g < 7; ++g) {
    auto p = NcclPlaceOf(job, g);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->module, expect_module[g]) << g;
    EXPECT_EQ(p->module_rank, expect_rank[g]) << g;
    EXPECT_EQ(NcclGlobalRank(job, p->module, p->module_rank), g);
  }
  auto outside = NcclPlaceOf(job, 7);
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.status().message(), "nccl world: global rank 7 outside [0, 7)");
  EXPECT_FALSE(NcclPlaceOf(job, -1).ok());
  EXPECT_FALSE(NcclPlaceOf({{"llm", {0, 1, 1}}}, 0).ok());  // invalid layout
}

// The docs/PARALLELISM.md example: {dp 2, tp 3, pp 2}, rank 7 = (dp 0, tp 1, stage 1).
TEST(NcclIdTest, WorkedExample) {
  const std::vector<NcclModule> job = {{"encoder", {1, 1, 1}}, {"llm", {2, 3, 2}}};
  auto s = NcclSplitsOf(job, 1 + 7);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->dp.name, "llm/dp-t1-p1");
  EXPECT_EQ(s->dp.color, 1 + 7);  // DP group {7, 10}
  EXPECT_EQ(s->dp.key, 0);
  EXPECT_EQ(s->tp.name, "llm/tp-d0-p1");
  EXPECT_EQ(s->tp.color, 1 + 6);  // TP group {6, 7, 8}
  EXPECT_EQ(s->tp.key, 1);
  EXPECT_EQ(s->mp.name, "llm/mp-d0");
  EXPECT_EQ(s->mp.color, 1 + 0);  // {0 1 2 6 7 8}
  EXPECT_EQ(s->mp.key, 4);        // pp * tp + tp = 1 * 3 + 1
}

// For each kind of split: color -> (key -> global rank).
using Groups = std::map<int, std::map<int, int>>;

void Add(Groups* groups, const NcclSplit& s, int global, std::map<int, std::string>* names) {
  ASSERT_GE(s.color, 0);
  auto [it, fresh] = (*groups)[s.color].emplace(s.key, global);
  EXPECT_TRUE(fresh) << "two ranks with key " << s.key << " in group " << s.name;
  auto [nit, new_name] = names->emplace(s.color, s.name);
  EXPECT_EQ(nit->second, s.name) << "colour " << s.color << " names two groups";
  (void)it;
  (void)new_name;
}

// Every group's members, ordered by key, are exactly common/parallel's group
// (offset into the world), and each member's key is its position there (its
// rank in the Gloo group the worker builds: me.dp, me.tp, me.pp * tp + me.tp).
void CheckJob(const std::vector<NcclModule>& job) {
  Groups dp, tp, mp;
  std::map<int, std::string> dp_names, tp_names, mp_names;
  const int world = NcclWorldSize(job);
  for (int g = 0; g < world; ++g) {
    auto s = NcclSplitsOf(job, g);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Add(&dp, s->dp, g, &dp_names);
    Add(&tp, s->tp, g, &tp_names);
    Add(&mp, s->mp, g, &mp_names);

    auto place = NcclPlaceOf(job, g);
    ASSERT_TRUE(place.ok());
    const parallel::Layout& l = job[place->module].layout;
    const parallel::Coord me = parallel::CoordOf(l, place->module_rank);
    EXPECT_EQ(s->dp.key, me.dp);
    EXPECT_EQ(s->tp.key, me.tp);
    EXPECT_EQ(s->mp.key, me.pp * l.tp + me.tp);
    const std::string role = job[place->module].role;
    EXPECT_EQ(s->dp.name, role + "/dp-t" + std::to_string(me.tp) + "-p" + std::to_string(me.pp));
    EXPECT_EQ(s->tp.name, role + "/tp-d" + std::to_string(me.dp) + "-p" + std::to_string(me.pp));
    EXPECT_EQ(s->mp.name, role + "/mp-d" + std::to_string(me.dp));
  }
  struct Kind {
    const char* name;
    const Groups* groups;
    std::vector<int> (*members)(const parallel::Layout&, int);
  };
  for (const Kind& kind : {Kind{"dp", &dp, parallel::DpGroup}, Kind{"tp", &tp, parallel::TpGroup},
                           Kind{"mp", &mp, parallel::ModelParallelGroup}}) {
    int covered = 0;
    for (const auto& [color, by_key] : *kind.groups) {
      std::vector<int> got;
      int expect_key = 0;
      for (const auto& [key, global] : by_key) {
        EXPECT_EQ(key, expect_key++) << kind.name << " colour " << color << ": keys not 0..n-1";
        got.push_back(global);
      }
      auto place = NcclPlaceOf(job, got.front());
      ASSERT_TRUE(place.ok());
      const int first = got.front() - place->module_rank;
      std::vector<int> want = kind.members(job[place->module].layout, place->module_rank);
      for (int& r : want) r += first;
      EXPECT_EQ(got, want) << kind.name << " colour " << color;
      EXPECT_EQ(color, want.front()) << kind.name;
      covered += static_cast<int>(got.size());
    }
    EXPECT_EQ(covered, world) << kind.name << ": every rank in exactly one group";
  }
  // Group counts per module: dp groups = tp * pp, tp groups = dp * pp, mp groups = dp.
  size_t want_dp = 0, want_tp = 0, want_mp = 0;
  for (const NcclModule& m : job) {
    want_dp += m.layout.tp * m.layout.pp;
    want_tp += m.layout.dp * m.layout.pp;
    want_mp += m.layout.dp;
  }
  EXPECT_EQ(dp.size(), want_dp);
  EXPECT_EQ(tp.size(), want_tp);
  EXPECT_EQ(mp.size(), want_mp);
}

TEST(NcclIdTest, SplitsMatchParallelGroupsSingleModule) {
  for (parallel::Layout l : {parallel::Layout{1, 1, 1}, parallel::Layout{4, 1, 1}, parallel::Layout{1, 4, 1},
                             parallel::Layout{1, 1, 4}, parallel::Layout{2, 3, 2}, parallel::Layout{3, 2, 1},
                             parallel::Layout{2, 1, 3}, parallel::Layout{1, 2, 3}}) {
    SCOPED_TRACE(testing::Message() << "dp " << l.dp << " tp " << l.tp << " pp " << l.pp);
    CheckJob({{"llm", l}});
  }
}

TEST(NcclIdTest, SplitsMatchParallelGroupsWholeJob) {
  CheckJob({{"encoder", {2, 1, 1}}, {"llm", {2, 2, 2}}, {"generator", {1, 1, 1}}});
  CheckJob({{"encoder", {1, 2, 1}}, {"llm", {1, 3, 2}}, {"generator", {3, 1, 1}}});
  CheckJob({{"encoder", {3, 1, 1}}, {"llm", {1, 1, 1}}, {"generator", {2, 1, 1}}});
}

// With pp == 1 the model-parallel group is the TP group (as in the worker,
// which then uses its TP Gloo group for the gradient norm).
TEST(NcclIdTest, ModelParallelIsTpWithoutStages) {
  const std::vector<NcclModule> job = {{"encoder", {2, 2, 1}}, {"llm", {3, 2, 1}}};
  for (int g = 0; g < NcclWorldSize(job); ++g) {
    auto s = NcclSplitsOf(job, g);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->mp.color, s->tp.color) << g;
    EXPECT_EQ(s->mp.key, s->tp.key) << g;
  }
}

}  // namespace
}  // namespace braid::comm
