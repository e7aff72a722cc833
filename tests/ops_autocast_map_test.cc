// ShadowMap (common/ops/cuda/shadow_map.h): the pointer -> bf16-mirror
// bookkeeping of the autocast CUDA backend, on host arrays standing in for
// device memory.
#include "common/ops/cuda/shadow_map.h"

#include <gtest/gtest.h>

#include <vector>

namespace braid::cuda {
namespace {

TEST(ShadowMapTest, FindsWeightsWhollyInsideARange) {
  std::vector<float> params(100), other(10);
  int mirror = 0;
  ShadowMap m;
  EXPECT_EQ(m.Find(params.data(), 1), -1);
  const int r = m.Add(params.data(), 100, &mirror, true);
  EXPECT_EQ(r, 0);
  EXPECT_EQ(m.Find(params.data(), 100), 0);       // the whole buffer
  EXPECT_EQ(m.Find(params.data() + 40, 60), 0);   // a view ending at the end
  EXPECT_EQ(m.Find(params.data() + 40, 61), -1);  // one past the end
  EXPECT_EQ(m.Find(params.data() + 99, 0), 0);    // count 0: the pointer itself
  EXPECT_EQ(m.Find(params.data() + 100, 0), -1);
  EXPECT_EQ(m.Find(other.data(), 1), -1);
  EXPECT_EQ(m.Offset(0, params.data() + 40), 40);
  // A pointer between two floats is not a weight of the buffer.
  const char* odd = reinterpret_cast<const char*>(params.data()) + 2;
  EXPECT_EQ(m.Find(odd, 1), -1);
}

TEST(ShadowMapTest, PicksTheRightRangeAmongSeveral) {
  std::vector<float> a(50), b(70);
  int ma = 0, mb = 0;
  ShadowMap m;
  m.Add(a.data(), 50, &ma, false);
  m.Add(b.data(), 70, &mb, false);
  ASSERT_EQ(m.Find(b.data() + 3, 10), 1);
  EXPECT_EQ(m.at(1).shadow, &mb);
  EXPECT_EQ(m.Offset(1, b.data() + 3), 3);
  ASSERT_EQ(m.Find(a.data() + 49, 1), 0);
  EXPECT_EQ(m.Offset(0, a.data() + 49), 49);
}

TEST(ShadowMapTest, WritesMarkOverlappingRangesStale) {
  std::vector<float> buf(200);
  ShadowMap m;
  m.Add(buf.data(), 100, nullptr, false);        // [0, 100)
  m.Add(buf.data() + 100, 100, nullptr, false);  // [100, 200)
  EXPECT_EQ(m.MarkStale(buf.data() + 10, 5 * sizeof(float)), 1);
  EXPECT_TRUE(m.at(0).stale);
  EXPECT_FALSE(m.at(1).stale);
  // A write of zero bytes touches nothing; one byte at the boundary touches only the second.
  EXPECT_EQ(m.MarkStale(buf.data() + 100, 0), 0);
  EXPECT_EQ(m.MarkStale(buf.data() + 100, 1), 1);
  EXPECT_TRUE(m.at(1).stale);
  m.at(0).stale = m.at(1).stale = false;
  EXPECT_EQ(m.MarkStale(buf.data() + 99, 2 * sizeof(float)), 2);  // straddles both
  m.at(0).stale = m.at(1).stale = false;
  m.MarkAllStale();
  EXPECT_TRUE(m.at(0).stale && m.at(1).stale);
}

TEST(ShadowMapTest, OverlappingAndRemove) {
  std::vector<float> buf(300);
  int m0 = 0, m1 = 0, m2 = 0;
  ShadowMap m;
  m.Add(buf.data(), 100, &m0, false);
  m.Add(buf.data() + 100, 100, &m1, false);
  m.Add(buf.data() + 200, 100, &m2, true);
  EXPECT_EQ(m.Overlapping(buf.data() + 150, 100 * sizeof(float)), (std::vector<int>{1, 2}));
  EXPECT_TRUE(m.Overlapping(buf.data() + 300, 4).empty());
  const ShadowMap::Range r = m.Remove(1);
  EXPECT_EQ(r.shadow, &m1);
  EXPECT_EQ(r.n, 100);
  ASSERT_EQ(m.size(), 2);
  EXPECT_EQ(m.Find(buf.data() + 150, 1), -1);
  EXPECT_EQ(m.Find(buf.data() + 250, 1), 1);  // the third range moved down to index 1
  EXPECT_EQ(m.at(1).shadow, &m2);
  EXPECT_TRUE(m.at(1).stale);
}

}  // namespace
}  // namespace braid::cuda
