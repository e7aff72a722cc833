// The in-order router and ValidatePlan: structural properties over many
// layouts, a hand-worked example, and mutations ValidatePlan must catch.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/reorder/in_order_router.h"
#include "common/reorder/routing_checks.h"
#include "common/reorder/step_plan_types.h"

namespace braid::reorder {
namespace {

SampleMeta Meta(int64_t id, int32_t images, int32_t gen, int64_t text_targets) {
  return {id, images, gen, /*tokens=*/16 + 4 * images + text_targets, text_targets};
}

// 12 samples (divisible by 1, 2, 4 microbatches), ids not equal to positions;
// some with 0 images, some with 8, some with generation targets.
std::vector<SampleMeta> SyntheticBatch() {
  const int32_t images[12] = {0, 8, 1, 3, 0, 2, 8, 0, 1, 5, 0, 4};
  const int32_t gen[12] = {0, 1, 0, 2, 0, 0, 1, 3, 0, 0, 1, 0};
  std::vector<SampleMeta> out;
  for (int i = 0; i < 12; ++i) out.push_back(Meta(1000 + 7 * i, images[i], gen[i], 5 + i));
  return out;
}

// A larger deterministic pseudo-random batch (LCG), 24 samples.
std::vector<SampleMeta> PseudoRandomBatch() {
  std::vector<SampleMeta> out;
  uint64_t x = 12345;
  auto next = [&x](int mod) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int32_t>((x >> 33) % static_cast<uint64_t>(mod));
  };
  for (int i = 0; i < 24; ++i) out.push_back(Meta(50 + 3 * i, next(9), next(4), next(40)));
  return out;
}

const Layout kLayouts[] = {{1, 1, 1}, {3, 2, 1}, {2, 1, 2}, {1, 3, 2}, {4, 4, 4}};
const int kMicrobatches[] = {1, 2, 4};

std::string Name(const Layout& l, int m) {
  return "layout " + std::to_string(l.encoder_dp) + "/" + std::to_string(l.llm_dp) + "/" +
         std::to_string(l.generator_dp) + " microbatches " + std::to_string(m);
}

// Per-rank views of one module: counts differ by at most 1, ranks past the
// number of units get none, the views partition the units (each exactly once)
// and each view is in microbatch order; the assignment is contiguous.
template <typename Unit, typename View, typename RankOf>
void CheckModule(const std::vector<Unit>& units, int dp, View view, RankOf rank_of,
                 const std::string& what) {
  SCOPED_TRACE(what);
  std::vector<size_t> counts;
  std::set<const Unit*> seen;
  for (int r = 0; r < dp; ++r) {
    const std::vector<const Unit*> v = view(r);
    counts.push_back(v.size());
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end())) << "rank " << r << " view not in order";
    for (const Unit* u : v) {
      EXPECT_EQ(rank_of(*u), r);
      EXPECT_TRUE(seen.insert(u).second) << "unit in two views";
    }
    if (static_cast<size_t>(r) >= units.size()) {
      EXPECT_EQ(v.size(), 0u) << "rank " << r;
    }
  }
  EXPECT_EQ(seen.size(), units.size());
  for (const Unit& u : units) EXPECT_EQ(seen.count(&u), 1u);
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  EXPECT_LE(*hi - *lo, 1u);
  for (size_t i = 1; i < units.size(); ++i) {
    EXPECT_LE(rank_of(units[i - 1]), rank_of(units[i])) << "not contiguous at " << i;
  }
}

void CheckPlanProperties(const std::vector<SampleMeta>& batch) {
  for (const Layout& layout : kLayouts) {
    for (int m : kMicrobatches) {
      SCOPED_TRACE(Name(layout, m));
      const StepPlan plan = PlanInOrder(/*step=*/7, batch, m, layout);
      ASSERT_TRUE(ValidatePlan(plan, batch, layout).ok())
          << ValidatePlan(plan, batch, layout).ToString();
      EXPECT_EQ(plan.step, 7);
      ASSERT_EQ(plan.microbatches.size(), static_cast<size_t>(m));

      int64_t text = 0, gen = 0;
      for (const SampleMeta& s : batch) {
        text += s.text_targets;
        gen += s.num_gen_targets;
      }
      EXPECT_EQ(plan.global_samples, static_cast<int64_t>(batch.size()));
      EXPECT_EQ(plan.global_text_targets, text);
      EXPECT_EQ(plan.global_gen_targets, gen);

      const size_t per_mb = batch.size() / static_cast<size_t>(m);
      for (size_t k = 0; k < plan.microbatches.size(); ++k) {
        const MicrobatchPlan& mb = plan.microbatches[k];
        SCOPED_TRACE("microbatch " + std::to_string(k));
        // Contiguous, in order.
        ASSERT_EQ(mb.samples.size(), per_mb);
        for (size_t i = 0; i < per_mb; ++i) {
          EXPECT_EQ(mb.samples[i].sample_id, batch[k * per_mb + i].id);
        }
        // uids dense in microbatch order.
        for (size_t i = 0; i < mb.images.size(); ++i) EXPECT_EQ(mb.images[i].uid, i);
        for (size_t i = 0; i < mb.gen.size(); ++i) EXPECT_EQ(mb.gen[i].uid, i);

        CheckModule(
            mb.samples, layout.llm_dp, [&](int r) { return SamplesOfLlmRank(mb, r); },
            [](const SampleUnit& u) { return u.llm_rank; }, "llm samples");
        CheckModule(
            mb.images, layout.encoder_dp, [&](int r) { return ImagesOfEncoderRank(mb, r); },
            [](const ImageUnit& u) { return u.encoder_rank; }, "encoder images");
        CheckModule(
            mb.gen, layout.generator_dp, [&](int r) { return GenOfGeneratorRank(mb, r); },
            [](const GenUnit& u) { return u.generator_rank; }, "generator targets");

        // LLM-side views of images and gen targets: partition, and every unit
        // belongs to a sample the rank owns.
        size_t llm_images = 0, llm_gen = 0;
        for (int r = 0; r < layout.llm_dp; ++r) {
          std::set<int64_t> owned;
          for (const SampleUnit* s : SamplesOfLlmRank(mb, r)) owned.insert(s->sample_id);
          const auto imgs = ImagesOfLlmRank(mb, r);
          const auto gens = GenOfLlmRank(mb, r);
          EXPECT_TRUE(std::is_sorted(imgs.begin(), imgs.end()));
          EXPECT_TRUE(std::is_sorted(gens.begin(), gens.end()));
          for (const ImageUnit* u : imgs) EXPECT_EQ(owned.count(u->sample_id), 1u);
          for (const GenUnit* u : gens) EXPECT_EQ(owned.count(u->sample_id), 1u);
          llm_images += imgs.size();
          llm_gen += gens.size();
        }
        EXPECT_EQ(llm_images, mb.images.size());
        EXPECT_EQ(llm_gen, mb.gen.size());
      }
    }
  }
}

TEST(ReorderRouting, ContiguousRankSplitsEvenly) {
  // 7 units over 3 ranks -> 3, 2, 2.
  std::vector<int32_t> got;
  for (int i = 0; i < 7; ++i) got.push_back(ContiguousRank(i, 7, 3));
  EXPECT_EQ(got, (std::vector<int32_t>{0, 0, 0, 1, 1, 2, 2}));
  // Fewer units than ranks: one each, the rest get none.
  got.clear();
  for (int i = 0; i < 2; ++i) got.push_back(ContiguousRank(i, 2, 4));
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1}));
  // Divisible.
  got.clear();
  for (int i = 0; i < 6; ++i) got.push_back(ContiguousRank(i, 6, 2));
  EXPECT_EQ(got, (std::vector<int32_t>{0, 0, 0, 1, 1, 1}));
}

TEST(ReorderRouting, PropertiesOnSyntheticBatch) { CheckPlanProperties(SyntheticBatch()); }

TEST(ReorderRouting, PropertiesOnPseudoRandomBatch) { CheckPlanProperties(PseudoRandomBatch()); }

TEST(ReorderRouting, ZeroUnitRanksAndEmptyModules) {
  // 12 samples in 4 microbatches of 3 over 4 LLM ranks: rank 3 owns nothing.
  const auto batch = SyntheticBatch();
  const Layout layout{4, 4, 4};
  const StepPlan plan = PlanInOrder(0, batch, 4, layout);
  ASSERT_TRUE(ValidatePlan(plan, batch, layout).ok());
  for (const MicrobatchPlan& mb : plan.microbatches) {
    EXPECT_EQ(SamplesOfLlmRank(mb, 3).size(), 0u);
    EXPECT_EQ(ImagesOfLlmRank(mb, 3).size(), 0u);
    EXPECT_EQ(GenOfLlmRank(mb, 3).size(), 0u);
  }
  // Microbatch 0 = samples with images 0, 8, 1 and gen 0, 1, 0: one gen
  // target over 4 generator ranks lands on rank 0, ranks 1..3 get none.
  const MicrobatchPlan& mb0 = plan.microbatches[0];
  ASSERT_EQ(mb0.gen.size(), 1u);
  EXPECT_EQ(mb0.gen[0].generator_rank, 0);
  for (int r = 1; r < 4; ++r) EXPECT_TRUE(GenOfGeneratorRank(mb0, r).empty());
  // A batch with no images or gen targets at all.
  std::vector<SampleMeta> text_only = {Meta(1, 0, 0, 3), Meta(2, 0, 0, 4)};
  const StepPlan p2 = PlanInOrder(1, text_only, 1, layout);
  ASSERT_TRUE(ValidatePlan(p2, text_only, layout).ok());
  EXPECT_TRUE(p2.microbatches[0].images.empty());
  EXPECT_TRUE(p2.microbatches[0].gen.empty());
  EXPECT_EQ(p2.global_text_targets, 7);
  EXPECT_EQ(p2.global_gen_targets, 0);
}

// Hand-worked: 8 samples, 2 microbatches of 4, layout encoder 3 / llm 2 /
// generator 2.
//
// Microbatch 0: samples 10, 11, 12, 13 with images 3, 0, 2, 4 (9) and gen
// targets 0, 1, 0, 2 (3).
//   llm:     4 samples over 2 ranks -> 2, 2: 10,11 -> llm 0; 12,13 -> llm 1.
//   encoder: 9 images over 3 ranks -> 3, 3, 3, in microbatch order:
//     uid 0 (10,0) e0 l0 | uid 1 (10,1) e0 l0 | uid 2 (10,2) e0 l0
//     uid 3 (12,0) e1 l1 | uid 4 (12,1) e1 l1 | uid 5 (13,0) e1 l1
//     uid 6 (13,1) e2 l1 | uid 7 (13,2) e2 l1 | uid 8 (13,3) e2 l1
//     (sample 13's images straddle encoder ranks 1 and 2.)
//   generator: 3 targets over 2 ranks -> 2, 1:
//     uid 0 (11,0) g0 l0 | uid 1 (13,0) g0 l1 | uid 2 (13,1) g1 l1
// Microbatch 1: samples 20, 21, 22, 23 with images 1, 0, 3, 3 (7) and gen
// targets 0, 0, 1, 0 (1).
//   llm: 20,21 -> llm 0; 22,23 -> llm 1.
//   encoder: 7 images over 3 ranks -> 3, 2, 2:
//     uid 0 (20,0) e0 l0 | uid 1 (22,0) e0 l1 | uid 2 (22,1) e0 l1
//     uid 3 (22,2) e1 l1 | uid 4 (23,0) e1 l1
//     uid 5 (23,1) e2 l1 | uid 6 (23,2) e2 l1
//   generator: 1 target over 2 ranks -> 1, 0: uid 0 (22,0) g0 l1.
// Globals: samples 8, gen targets 4, text targets 1+2+...+8 = 36.
TEST(ReorderRouting, HandWorkedExample) {
  const std::vector<SampleMeta> batch = {
      Meta(10, 3, 0, 1), Meta(11, 0, 1, 2), Meta(12, 2, 0, 3), Meta(13, 4, 2, 4),
      Meta(20, 1, 0, 5), Meta(21, 0, 0, 6), Meta(22, 3, 1, 7), Meta(23, 3, 0, 8)};
  const Layout layout{3, 2, 2};
  const StepPlan plan = PlanInOrder(42, batch, 2, layout);
  ASSERT_TRUE(ValidatePlan(plan, batch, layout).ok());
  EXPECT_EQ(plan.step, 42);
  EXPECT_EQ(plan.global_samples, 8);
  EXPECT_EQ(plan.global_gen_targets, 4);
  EXPECT_EQ(plan.global_text_targets, 36);
  ASSERT_EQ(plan.microbatches.size(), 2u);

  using S = std::pair<int64_t, int32_t>;  // (sample, llm rank)
  struct I {
    int64_t sample;
    int32_t index, module_rank, llm_rank;
  };
  auto samples_of = [](const MicrobatchPlan& mb) {
    std::vector<S> out;
    for (const auto& s : mb.samples) out.emplace_back(s.sample_id, s.llm_rank);
    return out;
  };
  auto expect_images = [](const MicrobatchPlan& mb, const std::vector<I>& want) {
    ASSERT_EQ(mb.images.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      SCOPED_TRACE("image uid " + std::to_string(i));
      EXPECT_EQ(mb.images[i].sample_id, want[i].sample);
      EXPECT_EQ(mb.images[i].index, want[i].index);
      EXPECT_EQ(mb.images[i].encoder_rank, want[i].module_rank);
      EXPECT_EQ(mb.images[i].llm_rank, want[i].llm_rank);
      EXPECT_EQ(mb.images[i].uid, i);
    }
  };
  auto expect_gen = [](const MicrobatchPlan& mb, const std::vector<I>& want) {
    ASSERT_EQ(mb.gen.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      SCOPED_TRACE("gen uid " + std::to_string(i));
      EXPECT_EQ(mb.gen[i].sample_id, want[i].sample);
      EXPECT_EQ(mb.gen[i].index, want[i].index);
      EXPECT_EQ(mb.gen[i].generator_rank, want[i].module_rank);
      EXPECT_EQ(mb.gen[i].llm_rank, want[i].llm_rank);
      EXPECT_EQ(mb.gen[i].uid, i);
    }
  };

  const MicrobatchPlan& mb0 = plan.microbatches[0];
  EXPECT_EQ(samples_of(mb0), (std::vector<S>{{10, 0}, {11, 0}, {12, 1}, {13, 1}}));
  expect_images(mb0, {{10, 0, 0, 0},
                      {10, 1, 0, 0},
                      {10, 2, 0, 0},
                      {12, 0, 1, 1},
                      {12, 1, 1, 1},
                      {13, 0, 1, 1},
                      {13, 1, 2, 1},
                      {13, 2, 2, 1},
                      {13, 3, 2, 1}});
  expect_gen(mb0, {{11, 0, 0, 0}, {13, 0, 0, 1}, {13, 1, 1, 1}});

  const MicrobatchPlan& mb1 = plan.microbatches[1];
  EXPECT_EQ(samples_of(mb1), (std::vector<S>{{20, 0}, {21, 0}, {22, 1}, {23, 1}}));
  expect_images(mb1, {{20, 0, 0, 0},
                      {22, 0, 0, 1},
                      {22, 1, 0, 1},
                      {22, 2, 1, 1},
                      {23, 0, 1, 1},
                      {23, 1, 2, 1},
                      {23, 2, 2, 1}});
  expect_gen(mb1, {{22, 0, 0, 1}});
  EXPECT_TRUE(GenOfGeneratorRank(mb1, 1).empty());

  // Views of encoder rank 1 in microbatch 0: (12,0), (12,1), (13,0), all
  // headed for LLM rank 1; LLM rank 1 receives from encoder ranks 1 and 2.
  const auto e1 = ImagesOfEncoderRank(mb0, 1);
  ASSERT_EQ(e1.size(), 3u);
  EXPECT_EQ(e1[0]->uid, 3u);
  EXPECT_EQ(e1[2]->uid, 5u);
  const auto l1 = ImagesOfLlmRank(mb0, 1);
  ASSERT_EQ(l1.size(), 6u);
  EXPECT_EQ(l1.front()->encoder_rank, 1);
  EXPECT_EQ(l1.back()->encoder_rank, 2);
  EXPECT_EQ(GenOfLlmRank(mb0, 0).size(), 1u);
  EXPECT_EQ(GenOfLlmRank(mb0, 1).size(), 2u);
}

// Mutations of a good plan that ValidatePlan must reject.
class ValidatePlanMutation : public ::testing::Test {
 protected:
  void SetUp() override {
    batch_ = SyntheticBatch();
    plan_ = PlanInOrder(3, batch_, 2, layout_);
    ASSERT_TRUE(ValidatePlan(plan_, batch_, layout_).ok());
  }
  void ExpectRejected(const std::string& needle) {
    const Status st = ValidatePlan(plan_, batch_, layout_);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
  }
  std::vector<SampleMeta> batch_;
  Layout layout_{3, 2, 2};
  StepPlan plan_;
};

TEST_F(ValidatePlanMutation, DuplicatedSampleAcrossMicrobatches) {
  plan_.microbatches[1].samples.push_back(plan_.microbatches[0].samples[0]);
  ExpectRejected("duplicated");
}

TEST_F(ValidatePlanMutation, DuplicatedSampleInMicrobatch) {
  auto& s = plan_.microbatches[0].samples;
  s.push_back(s[1]);
  ExpectRejected("duplicated");
}

TEST_F(ValidatePlanMutation, MissingSample) {
  // Drop the last sample of microbatch 1 (it has images: drop them too).
  auto& mb = plan_.microbatches[1];
  const int64_t id = mb.samples.back().sample_id;
  mb.samples.pop_back();
  std::erase_if(mb.images, [id](const ImageUnit& u) { return u.sample_id == id; });
  std::erase_if(mb.gen, [id](const GenUnit& u) { return u.sample_id == id; });
  ExpectRejected("missing");
}

TEST_F(ValidatePlanMutation, WrongLlmRankOnImage) {
  ImageUnit& u = plan_.microbatches[0].images.front();
  u.llm_rank = 1 - u.llm_rank;
  ExpectRejected("llm_rank");
}

TEST_F(ValidatePlanMutation, WrongLlmRankOnGen) {
  GenUnit& u = plan_.microbatches[1].gen.back();
  u.llm_rank = 1 - u.llm_rank;
  ExpectRejected("llm_rank");
}

TEST_F(ValidatePlanMutation, BadTextCount) {
  plan_.global_text_targets += 1;
  ExpectRejected("global_text_targets");
}

TEST_F(ValidatePlanMutation, BadGenCount) {
  plan_.global_gen_targets -= 1;
  ExpectRejected("global_gen_targets");
}

TEST_F(ValidatePlanMutation, BadSampleCount) {
  plan_.global_samples = 0;
  ExpectRejected("global_samples");
}

TEST_F(ValidatePlanMutation, RankOutOfRange) {
  plan_.microbatches[0].images.back().encoder_rank = layout_.encoder_dp;
  ExpectRejected("encoder rank");
}

TEST_F(ValidatePlanMutation, DuplicatedImage) {
  auto& imgs = plan_.microbatches[0].images;
  ImageUnit copy = imgs.back();
  copy.uid = static_cast<uint32_t>(imgs.size());
  imgs.push_back(copy);
  ExpectRejected("duplicated");
}

TEST_F(ValidatePlanMutation, MissingImage) {
  plan_.microbatches[0].images.pop_back();
  ExpectRejected("image");
}

TEST_F(ValidatePlanMutation, RepeatedUid) {
  auto& imgs = plan_.microbatches[0].images;
  ASSERT_GE(imgs.size(), 2u);
  imgs[1].uid = imgs[0].uid;
  ExpectRejected("uid");
}

TEST_F(ValidatePlanMutation, ImageInWrongMicrobatch) {
  // Move an image of microbatch 0 into microbatch 1 (uids fixed up).
  auto& from = plan_.microbatches[0].images;
  auto& to = plan_.microbatches[1].images;
  ImageUnit u = from.back();
  from.pop_back();
  u.uid = static_cast<uint32_t>(to.size());
  to.push_back(u);
  ExpectRejected("not in this microbatch");
}

TEST(ReorderRoutingDeathTest, MicrobatchesMustDivideBatch) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto batch = SyntheticBatch();  // 12 samples
  EXPECT_DEATH((void)PlanInOrder(0, batch, 5, Layout{}), "check failed");
}

}  // namespace
}  // namespace braid::reorder
