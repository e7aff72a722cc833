// PlannedStepCache: each step is made once however many streams ask, the
// newest steps are kept, and an old step asked for by a lagging stream is
// made again and returned intact even though it is evicted at once.
#include <gtest/gtest.h>

#include "services/data_reorderer/reorderer_core.h"

namespace braid::reorderer {
namespace {

std::shared_ptr<const PlannedStep> Planned(int64_t step) {
  auto p = std::make_shared<PlannedStep>();
  p->plan.step = step;
  return p;
}

TEST(PlannedStepCache, MakesEachStepOnceAndSurvivesEviction) {
  PlannedStepCache cache;
  int made = 0;
  auto get = [&](int64_t step) {
    StatusOr<std::shared_ptr<const PlannedStep>> r = cache.Get(step, [&]() -> StatusOr<std::shared_ptr<const PlannedStep>> {
      ++made;
      return Planned(step);
    });
    EXPECT_TRUE(r.ok());
    return *r;
  };
  for (int rank = 0; rank < 5; ++rank) EXPECT_EQ(get(0)->plan.step, 0);
  EXPECT_EQ(made, 1);
  for (int64_t s = 1; s <= int64_t(PlannedStepCache::kKeep) + 3; ++s) get(s);
  EXPECT_EQ(made, int(PlannedStepCache::kKeep) + 4);
  // Step 0 was evicted; a lagging stream gets it made again, intact.
  EXPECT_EQ(get(0)->plan.step, 0);
  EXPECT_EQ(made, int(PlannedStepCache::kKeep) + 5);
  // The newest steps are still cached.
  get(int64_t(PlannedStepCache::kKeep) + 3);
  EXPECT_EQ(made, int(PlannedStepCache::kKeep) + 5);
}

TEST(PlannedStepCache, FailuresAreNotCached) {
  PlannedStepCache cache;
  int calls = 0;
  auto fail = [&]() -> StatusOr<std::shared_ptr<const PlannedStep>> {
    ++calls;
    return Status::InvalidArgument("bad sample");
  };
  EXPECT_EQ(cache.Get(3, fail).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cache.Get(3, fail).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace braid::reorderer
