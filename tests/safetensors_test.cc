// safetensors: round trip, the header decoded by hand against the spec, and
// every corruption case reported as DataLoss naming the file.
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/safetensors.h"

namespace braid {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "braid-st-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void Spit(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  static std::string LengthPrefix(uint64_t n) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return s;
  }
  // A file from a header JSON string and `data_bytes` bytes of data.
  std::string Handmade(const std::string& name, const std::string& header, size_t data_bytes) {
    Spit(Path(name), LengthPrefix(header.size()) + header + std::string(data_bytes, '\0'));
    return Path(name);
  }
  // Writes a standard two-tensor file and returns its path.
  std::string WriteSample(const std::string& name) {
    const float a[6] = {1, 2, 3, 4, 5, 6}, b[1] = {-0.5f};
    EXPECT_TRUE(WriteSafetensors(Path(name), {{"a", {2, 3}, a}, {"b", {1}, b}}, {{"k", "v"}}).ok());
    return Path(name);
  }
  void ExpectDataLoss(const std::string& path, const std::string& fragment) {
    StatusOr<SafetensorsFile> r = ReadSafetensors(path);
    ASSERT_FALSE(r.ok()) << fragment;
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().ToString();
  }

  fs::path dir_;
};

TEST_F(SafetensorsTest, RoundTrip) {
  const float w[6] = {0.1f, -2.0f, 3.5f, 1e-30f, 7.0f, -0.0f}, s[1] = {42.0f}, e[1] = {0.0f};
  const std::string path = Path("x.safetensors");
  ASSERT_TRUE(WriteSafetensors(path,
                               {{"layer.weight", {2, 3}, w}, {"scalar", {}, s}, {"empty", {0, 4}, e}},
                               {{"t", "17"}, {"module", "llm"}})
                  .ok());
  StatusOr<SafetensorsFile> r = ReadSafetensors(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->tensors.size(), 3u);
  const LoadedTensor& lw = r->tensors.at("layer.weight");
  EXPECT_EQ(lw.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(lw.data, std::vector<float>(w, w + 6));
  EXPECT_EQ(r->tensors.at("scalar").shape, std::vector<int64_t>{});
  EXPECT_EQ(r->tensors.at("scalar").data, std::vector<float>{42.0f});
  EXPECT_EQ(r->tensors.at("empty").shape, (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(r->tensors.at("empty").data.empty());
  EXPECT_EQ(r->metadata, (std::map<std::string, std::string>{{"module", "llm"}, {"t", "17"}}));
}

TEST_F(SafetensorsTest, HeaderMatchesSpecDecodedByHand) {
  const std::string bytes = Slurp(WriteSample("s.safetensors"));
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u) << "header padded to a multiple of 8";
  ASSERT_EQ(bytes.size(), 8 + n + 7 * sizeof(float));
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header[header.find_last_not_of(' ')], '}') << "only spaces after the JSON";
  const nlohmann::json j = nlohmann::json::parse(header);
  const nlohmann::json want = {
      {"a", {{"dtype", "F32"}, {"shape", {2, 3}}, {"data_offsets", {0, 24}}}},
      {"b", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {24, 28}}}},
      {"__metadata__", {{"k", "v"}}},
  };
  EXPECT_EQ(j, want) << j.dump();
  // The data section: little-endian F32 in the order written.
  float b;
  std::memcpy(&b, bytes.data() + 8 + n + 24, 4);
  EXPECT_EQ(b, -0.5f);
  float a5;
  std::memcpy(&a5, bytes.data() + 8 + n + 20, 4);
  EXPECT_EQ(a5, 6.0f);
}

TEST_F(SafetensorsTest, MissingFileIsNotFound) {
  StatusOr<SafetensorsFile> r = ReadSafetensors(Path("nope.safetensors"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("nope.safetensors"), std::string::npos);
}

TEST_F(SafetensorsTest, TruncatedFiles) {
  const std::string path = WriteSample("t.safetensors");
  const std::string bytes = Slurp(path);
  Spit(path, bytes.substr(0, 5));
  ExpectDataLoss(path, "truncated");
  Spit(path, bytes.substr(0, 20));  // inside the header
  ExpectDataLoss(path, "runs past the end");
  Spit(path, bytes.substr(0, bytes.size() - 3));  // inside the data
  ExpectDataLoss(path, "out of range");
}

TEST_F(SafetensorsTest, HeaderLengthBeyondFile) {
  const std::string path = WriteSample("h.safetensors");
  std::string bytes = Slurp(path);
  bytes[6] = '\x01';  // length += 2^48
  Spit(path, bytes);
  ExpectDataLoss(path, "runs past the end");
}

TEST_F(SafetensorsTest, FlippedHeaderByteIsBadJson) {
  const std::string path = WriteSample("j.safetensors");
  std::string bytes = Slurp(path);
  bytes[8] = '[';  // first byte of the JSON
  bytes[9] ^= 0x40;
  Spit(path, bytes);
  ExpectDataLoss(path, "bad JSON");
  ExpectDataLoss(Handmade("arr.safetensors", "[1,2]   ", 0), "not an object");
}

TEST_F(SafetensorsTest, OffsetsOutOfRangeOverlappingOrGapped) {
  ExpectDataLoss(Handmade("range.safetensors", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
                 "out of range");
  ExpectDataLoss(Handmade("back.safetensors", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", 4),
                 "out of range");
  ExpectDataLoss(Handmade("overlap.safetensors",
                          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                          12),
                 "overlaps");
  ExpectDataLoss(Handmade("gap.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
                 "gap before tensor 'a'");
  ExpectDataLoss(Handmade("tail.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8),
                 "trailing bytes");
}

TEST_F(SafetensorsTest, ShapeSizeMismatchAndBadFields) {
  ExpectDataLoss(Handmade("shape.safetensors", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
                 "does not match");
  ExpectDataLoss(Handmade("neg.safetensors", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
                 "bad shape");
  ExpectDataLoss(Handmade("noff.safetensors", R"({"a":{"dtype":"F32","shape":[2]}})", 8), "needs dtype");
  ExpectDataLoss(Handmade("meta.safetensors", R"({"__metadata__":{"t":3}})", 0), "not a string");
}

TEST_F(SafetensorsTest, UnsupportedDtype) {
  ExpectDataLoss(Handmade("f16.safetensors", R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4),
                 "unsupported dtype F16");
}

TEST_F(SafetensorsTest, WriterRejectsBadNames) {
  const float x[1] = {1};
  EXPECT_EQ(WriteSafetensors(Path("d.safetensors"), {{"a", {1}, x}, {"a", {1}, x}}, {}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteSafetensors(Path("m.safetensors"), {{"__metadata__", {1}, x}}, {}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(WriteSafetensors((dir_ / "no" / "such" / "dir.safetensors").string(), {}, {}).ok());
}

}  // namespace
}  // namespace braid
