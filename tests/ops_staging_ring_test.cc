// StagingRing (common/ops/cuda/staging_ring.h): the regions of uploads not
// yet waited for never overlap; a new upload waits only for earlier ones,
// oldest first, and only for those whose regions it takes; the ring wraps;
// uploads larger than the ring are refused.
#include "common/ops/cuda/staging_ring.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace braid::cuda {
namespace {

struct Region {
  size_t offset, size;
};

TEST(StagingRing, SequentialUploadsWaitForNothingUntilTheRingLaps) {
  StagingRing ring(1024);
  auto a = ring.Reserve(300);  // 512 with alignment: [0, 512)
  auto b = ring.Reserve(256);  // [512, 768)
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->offset, 0u);
  EXPECT_EQ(b->offset, 512u);
  EXPECT_TRUE(a->waits.empty());
  EXPECT_TRUE(b->waits.empty());
  auto c = ring.Reserve(512);  // does not fit at 768: wraps to 0, takes a's region
  ASSERT_TRUE(c);
  EXPECT_EQ(c->offset, 0u);
  EXPECT_EQ(c->waits, std::vector<uint64_t>{a->id});
  auto d = ring.Reserve(1);  // [512, 768): b's region
  ASSERT_TRUE(d);
  EXPECT_EQ(d->offset, 512u);
  EXPECT_EQ(d->waits, std::vector<uint64_t>{b->id});
  EXPECT_EQ(ring.in_flight(), 2u);
}

TEST(StagingRing, RefusesWhatDoesNotFit) {
  StagingRing ring(1000);  // 768 usable (256-byte units)
  EXPECT_EQ(ring.capacity(), 768u);
  EXPECT_FALSE(ring.Reserve(0));
  EXPECT_FALSE(ring.Reserve(769));
  auto all = ring.Reserve(768);
  ASSERT_TRUE(all);
  auto next = ring.Reserve(10);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->waits, std::vector<uint64_t>{all->id});
}

// Random sizes against a model of the live regions: after each Reserve and
// its waits, no two live regions overlap, every region is aligned and
// inside the ring, and waits come oldest first.
TEST(StagingRing, LiveRegionsNeverOverlap) {
  std::mt19937_64 g(7);
  for (size_t capacity : {size_t{4096}, size_t{1} << 20}) {
    StagingRing ring(capacity);
    std::map<uint64_t, Region> live;
    uint64_t last_wait = 0;
    for (int i = 0; i < 20000; ++i) {
      const size_t bytes = 1 + g() % (capacity / 3);
      auto s = ring.Reserve(bytes);
      ASSERT_TRUE(s);
      for (uint64_t w : s->waits) {
        ASSERT_EQ(live.count(w), 1u) << "waited twice for " << w;
        ASSERT_GT(w, last_wait) << "waits out of order";
        last_wait = w;
        live.erase(w);
      }
      const size_t size = (bytes + 255) / 256 * 256;
      ASSERT_EQ(s->offset % StagingRing::kAlign, 0u);
      ASSERT_LE(s->offset + size, ring.capacity());
      for (const auto& [id, r] : live)
        ASSERT_FALSE(r.offset < s->offset + size && s->offset < r.offset + r.size)
            << "upload " << s->id << " overlaps live upload " << id;
      live[s->id] = {s->offset, size};
      ASSERT_EQ(live.size(), ring.in_flight());
    }
  }
}

}  // namespace
}  // namespace braid::cuda
