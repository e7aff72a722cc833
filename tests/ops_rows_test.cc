// Row movement ops (common/ops/cpu/rows.h): exact results on small matrices.
#include <gtest/gtest.h>

#include <vector>

#include "common/ops/cpu/patch.h"
#include "common/ops/cpu/rows.h"

namespace braid::ops {
namespace {

// A (5, 2) matrix whose entry (r, c) is 10 r + c.
std::vector<float> Matrix() {
  std::vector<float> m(10);
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 2; ++c) m[size_t(r * 2 + c)] = float(10 * r + c);
  return m;
}

TEST(RowOps, GatherScatterAndZeroRows) {
  const std::vector<int32_t> rows = {3, 0};
  std::vector<float> m = Matrix(), packed(4);
  gather_rows(packed.data(), m.data(), rows.data(), 2, 2);
  EXPECT_EQ(packed, (std::vector<float>{30, 31, 0, 1}));
  std::vector<float> add = {1, 2, 3, 4};
  scatter_add_rows(m.data(), add.data(), rows.data(), 2, 2);
  EXPECT_EQ(m, (std::vector<float>{3, 5, 10, 11, 20, 21, 31, 33, 40, 41}));
  scatter_rows(m.data(), add.data(), rows.data(), 2, 2);
  EXPECT_EQ(m, (std::vector<float>{3, 4, 10, 11, 20, 21, 1, 2, 40, 41}));
  zero_rows(m.data(), rows.data(), 2, 2);
  EXPECT_EQ(m, (std::vector<float>{0, 0, 10, 11, 20, 21, 0, 0, 40, 41}));
}

TEST(RowOps, BiasCopyAndAccumulate) {
  std::vector<float> m = Matrix(), bias = {0.5f, -1};
  add_bias(m.data(), bias.data(), 5, 2);
  EXPECT_EQ(m[0], 0.5f);
  EXPECT_EQ(m[9], 40.0f);
  std::vector<float> c(10);
  copy(c.data(), m.data(), 10);
  EXPECT_EQ(c, m);
  accumulate(c.data(), m.data(), 10);
  EXPECT_EQ(c[3], 2 * m[3]);
}

// Two 4x4 images in 2x2 patches: patch (gy, gx) of image i is row i*4 + gy*2 + gx.
TEST(PatchOps, PatchifyLayoutScalingAndInverse) {
  std::vector<float> img(32);
  for (int i = 0; i < 32; ++i) img[size_t(i)] = float(i);
  std::vector<float> rows(32), back(32, -1);
  patchify(rows.data(), img.data(), 2, 4, 2);
  EXPECT_EQ(std::vector<float>(rows.begin(), rows.begin() + 4), (std::vector<float>{0, 1, 4, 5}));
  EXPECT_EQ(std::vector<float>(rows.begin() + 4, rows.begin() + 8), (std::vector<float>{2, 3, 6, 7}));
  EXPECT_EQ(std::vector<float>(rows.begin() + 28, rows.end()), (std::vector<float>{26, 27, 30, 31}));
  unpatchify(back.data(), rows.data(), 2, 4, 2);
  EXPECT_EQ(back, img);
  patchify(rows.data(), img.data(), 2, 4, 2, 1.0f, 2.0f);
  EXPECT_EQ(rows[3], (5.0f - 1.0f) / 2.0f);
}

}  // namespace
}  // namespace braid::ops
