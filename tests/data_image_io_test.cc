#include <gtest/gtest.h>
#include <png.h>
#include <stdlib.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "common/data/image_io.h"
#include "tests/temp_dir.h"

namespace braid {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteAll(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

GrayImage Gradient(int w, int h) {
  GrayImage g;
  g.width = w;
  g.height = h;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) g.pixels.push_back(static_cast<float>((x * 7 + y * 13) % 256) / 255.f);
  }
  return g;
}

void ExpectNear(const GrayImage& a, const GrayImage& b, float tol) {
  ASSERT_EQ(a.width, b.width);
  ASSERT_EQ(a.height, b.height);
  ASSERT_EQ(a.pixels.size(), b.pixels.size());
  float maxdiff = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) maxdiff = std::max(maxdiff, std::fabs(a.pixels[i] - b.pixels[i]));
  EXPECT_LE(maxdiff, tol) << "max diff " << maxdiff;
}

TEST(DataImageIo, PngAndPgmRoundTrip) {
  const testing_util::ScopedTempDir tmp("braid_image_");
  const std::string& dir = tmp.path();
  const GrayImage g = Gradient(13, 7);
  ASSERT_TRUE(SavePng(dir + "/g.png", g).ok());
  ASSERT_TRUE(SavePgm(dir + "/g.pgm", g).ok());
  for (const std::string& p : {dir + "/g.png", dir + "/g.pgm"}) {
    StatusOr<GrayImage> r = LoadImageFile(p);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ExpectNear(*r, g, 1e-6f);
  }
  GrayImage bad;
  bad.width = 2;
  bad.height = 2;
  EXPECT_EQ(SavePng(dir + "/bad.png", bad).code(), StatusCode::kInvalidArgument);
}

// RGB + alpha, 16-bit: luminance, alpha ignored.
TEST(DataImageIo, PngRgbaToGray) {
  const testing_util::ScopedTempDir tmp("braid_image_");
  const std::string& dir = tmp.path();
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = 2;
  image.height = 1;
  image.format = PNG_FORMAT_RGBA;
  const uint8_t px[8] = {255, 0, 0, 0, 0, 0, 255, 128};  // red (transparent), blue (half)
  ASSERT_TRUE(png_image_write_to_file(&image, (dir + "/c.png").c_str(), 0, px, 0, nullptr)) << image.message;
  StatusOr<GrayImage> r = LoadImageFile(dir + "/c.png");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->pixels.size(), 2u);
  EXPECT_NEAR(r->pixels[0], 0.299f, 0.01f);
  EXPECT_NEAR(r->pixels[1], 0.114f, 0.01f);
}

TEST(DataImageIo, PgmAsciiWithComments16Bit) {
  const testing_util::ScopedTempDir tmp("braid_image_");
  const std::string& dir = tmp.path();
  WriteAll(dir + "/a.pgm", "P2\n# a comment\n3 2 # trailing comment\n# another\n1000\n0 500 1000\n  250\n750 # x\n 1000\n");
  StatusOr<GrayImage> r = LoadImageFile(dir + "/a.pgm");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->width, 3);
  EXPECT_EQ(r->height, 2);
  EXPECT_EQ(r->pixels, (std::vector<float>{0.f, 0.5f, 1.f, 0.25f, 0.75f, 1.f}));

  // Binary with maxval > 255: two bytes per sample, big-endian.
  WriteAll(dir + "/b.pgm", std::string("P5 2 1 65535\n\xff\xff\x80\x00", 17));
  r = LoadImageFile(dir + "/b.pgm");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FLOAT_EQ(r->pixels[0], 1.f);
  EXPECT_NEAR(r->pixels[1], 0.5f, 1e-4f);
}

TEST(DataImageIo, CorruptFiles) {
  const testing_util::ScopedTempDir tmp("braid_image_");
  const std::string& dir = tmp.path();
  const GrayImage g = Gradient(40, 30);
  ASSERT_TRUE(SavePng(dir + "/g.png", g).ok());
  ASSERT_TRUE(SavePgm(dir + "/g.pgm", g).ok());
  const std::string png = ReadAll(dir + "/g.png");
  const std::string pgm = ReadAll(dir + "/g.pgm");
  struct Case {
    std::string name, bytes;
  };
  std::vector<Case> cases = {
      {"png_cut_half.png", png.substr(0, png.size() / 2)},
      {"png_cut_header.png", png.substr(0, 20)},
      {"png_sig_only.png", png.substr(0, 8)},
      {"png_no_iend.png", png.substr(0, png.size() - 12)},
      {"pgm_cut.pgm", pgm.substr(0, pgm.size() - 5)},
      {"pgm_header_only.pgm", "P5\n40 30\n"},
      {"pgm_bad_maxval.pgm", "P5\n1 1\n70000\n\x01"},
      {"p2_short.pgm", "P2\n2 2\n255\n1 2 3\n"},
      {"p2_over.pgm", "P2\n1 1\n10\n11\n"},
      {"wrong_magic.png", "GIF89a......"},
      {"empty.pgm", ""},
  };
  std::string flipped = png;
  flipped[png.size() / 2] ^= 0x5a;  // CRC / zlib failure inside IDAT
  cases.push_back({"png_flipped.png", flipped});
  for (const Case& c : cases) {
    const std::string path = dir + "/" + c.name;
    WriteAll(path, c.bytes);
    StatusOr<GrayImage> r = LoadImageFile(path);
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << c.name << ": " << r.status().ToString();
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(LoadImageFile(dir + "/missing.png").status().code(), StatusCode::kNotFound);
}

TEST(DataImageIo, ResizeBilinear) {
  GrayImage g;
  g.width = 2;
  g.height = 2;
  g.pixels = {0.f, 1.f, 0.f, 1.f};
  GrayImage same = ResizeBilinear(g, 2, 2);
  EXPECT_EQ(same.pixels, g.pixels);
  GrayImage up = ResizeBilinear(g, 4, 1);
  ASSERT_EQ(up.pixels.size(), 4u);
  EXPECT_FLOAT_EQ(up.pixels[0], 0.f);
  EXPECT_FLOAT_EQ(up.pixels[1], 0.25f);
  EXPECT_FLOAT_EQ(up.pixels[2], 0.75f);
  EXPECT_FLOAT_EQ(up.pixels[3], 1.f);
  GrayImage flat;
  flat.width = 5;
  flat.height = 3;
  flat.pixels.assign(15, 0.4f);
  for (float v : ResizeBilinear(flat, 28, 28).pixels) EXPECT_NEAR(v, 0.4f, 1e-6f);
  EXPECT_EQ(ResizeBilinear(flat, 28, 28).pixels.size(), 784u);
}

}  // namespace
}  // namespace braid
