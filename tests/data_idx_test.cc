#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "common/data/idx.h"
#include "tests/temp_dir.h"

namespace braid {
namespace {

void PutBe32(std::string* s, uint32_t v) {
  for (int sh = 24; sh >= 0; sh -= 8) s->push_back(static_cast<char>((v >> sh) & 0xff));
}

std::string ImagesBytes(uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols, size_t payload) {
  std::string s;
  PutBe32(&s, magic);
  PutBe32(&s, n);
  PutBe32(&s, rows);
  PutBe32(&s, cols);
  for (size_t i = 0; i < payload; ++i) s.push_back(static_cast<char>(i * 7 % 256));
  return s;
}

std::string LabelsBytes(uint32_t magic, uint32_t n, size_t payload) {
  std::string s;
  PutBe32(&s, magic);
  PutBe32(&s, n);
  for (size_t i = 0; i < payload; ++i) s.push_back(static_cast<char>(i % 10));
  return s;
}

void WriteRaw(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void WriteGz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

TEST(DataIdx, RawAndGzipRoundTrip) {
  const testing_util::ScopedTempDir tmp("braid_idx_");
  const std::string& dir = tmp.path();
  const std::string bytes = ImagesBytes(0x803, 3, 2, 4, 3 * 2 * 4);
  WriteRaw(dir + "/img", bytes);
  WriteGz(dir + "/img.gz", bytes);
  for (const std::string& p : {dir + "/img", dir + "/img.gz"}) {
    StatusOr<IdxImages> im = LoadIdxImages(p);
    ASSERT_TRUE(im.ok()) << im.status().ToString();
    EXPECT_EQ(im->count, 3);
    EXPECT_EQ(im->rows, 2);
    EXPECT_EQ(im->cols, 4);
    ASSERT_EQ(im->pixels.size(), 24u);
    EXPECT_EQ(im->pixels[5], 35);
  }
  WriteGz(dir + "/lab.gz", LabelsBytes(0x801, 5, 5));
  StatusOr<std::vector<uint8_t>> labels = LoadIdxLabels(dir + "/lab.gz");
  ASSERT_TRUE(labels.ok()) << labels.status().ToString();
  EXPECT_EQ(*labels, (std::vector<uint8_t>{0, 1, 2, 3, 4}));
}

TEST(DataIdx, Errors) {
  const testing_util::ScopedTempDir tmp("braid_idx_");
  const std::string& dir = tmp.path();
  WriteGz(dir + "/bad_magic.gz", ImagesBytes(0x801, 1, 2, 2, 4));
  WriteRaw(dir + "/truncated", ImagesBytes(0x803, 3, 2, 2, 11));
  WriteGz(dir + "/truncated_labels.gz", LabelsBytes(0x801, 9, 8));
  WriteRaw(dir + "/short_header", std::string("\0\0\x08", 3));

  StatusOr<IdxImages> r = LoadIdxImages(dir + "/bad_magic.gz");
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("bad_magic.gz"), std::string::npos);
  EXPECT_NE(r.status().message().find("magic"), std::string::npos);

  r = LoadIdxImages(dir + "/truncated");
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();

  EXPECT_EQ(LoadIdxLabels(dir + "/truncated_labels.gz").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(LoadIdxImages(dir + "/short_header").status().code(), StatusCode::kDataLoss);
  r = LoadIdxImages(dir + "/nope.gz");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("nope.gz"), std::string::npos);

  // A gzip stream cut in half.
  const std::string big = ImagesBytes(0x803, 50, 28, 28, 50 * 28 * 28);
  WriteGz(dir + "/full.gz", big);
  std::ifstream in(dir + "/full.gz", std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  WriteRaw(dir + "/cut.gz", gz.substr(0, gz.size() / 2));
  r = LoadIdxImages(dir + "/cut.gz");
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("cut.gz"), std::string::npos);
}

TEST(DataIdx, FashionMnistDirectory) {
  const testing_util::ScopedTempDir tmp("braid_idx_");
  const std::string& dir = tmp.path();
  WriteGz(dir + "/train-images-idx3-ubyte.gz", ImagesBytes(0x803, 4, 3, 3, 36));
  WriteGz(dir + "/train-labels-idx1-ubyte.gz", LabelsBytes(0x801, 4, 4));
  WriteRaw(dir + "/t10k-images-idx3-ubyte", ImagesBytes(0x803, 2, 3, 3, 18));
  EXPECT_EQ(LoadFashionMnist(dir).status().code(), StatusCode::kNotFound);  // t10k labels missing
  WriteRaw(dir + "/t10k-labels-idx1-ubyte", LabelsBytes(0x801, 3, 3));
  StatusOr<FashionMnist> fm = LoadFashionMnist(dir);
  EXPECT_EQ(fm.status().code(), StatusCode::kDataLoss);  // 2 images, 3 labels
  EXPECT_NE(fm.status().message().find("t10k"), std::string::npos) << fm.status().message();
  WriteRaw(dir + "/t10k-labels-idx1-ubyte", LabelsBytes(0x801, 2, 2));
  fm = LoadFashionMnist(dir);
  ASSERT_TRUE(fm.ok()) << fm.status().ToString();
  EXPECT_EQ(fm->train_images.count, 4);
  EXPECT_EQ(fm->test_labels.size(), 2u);
}

TEST(DataIdx, ClassNames) {
  EXPECT_STREQ(FashionClassName(0), "t-shirt");
  EXPECT_STREQ(FashionClassName(9), "ankle boot");
  for (int c = 0; c < 10; ++c) EXPECT_EQ(FashionClassFromName(FashionClassName(c)), c);
  EXPECT_EQ(FashionClassFromName("Coat"), -1);
  EXPECT_EQ(FashionClassFromName("boot"), -1);
  EXPECT_STREQ(FashionClassName(10), "?");
}

TEST(DataIdx, RealFashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  // scripts/setup.sh installs dataset-fashion-mnist: its absence is a failure.
  ASSERT_TRUE(std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz")) << dir << ": run scripts/setup.sh";
  StatusOr<FashionMnist> fm = LoadFashionMnist(dir);
  ASSERT_TRUE(fm.ok()) << fm.status().ToString();
  EXPECT_EQ(fm->train_images.count, 60000);
  EXPECT_EQ(fm->test_images.count, 10000);
  EXPECT_EQ(fm->train_images.rows, 28);
  EXPECT_EQ(fm->train_images.cols, 28);
  EXPECT_EQ(fm->train_labels.size(), 60000u);
  EXPECT_EQ(fm->test_labels.size(), 10000u);
  for (uint8_t l : fm->train_labels) ASSERT_LT(l, 10);
  for (uint8_t l : fm->test_labels) ASSERT_LT(l, 10);
}

}  // namespace
}  // namespace braid
