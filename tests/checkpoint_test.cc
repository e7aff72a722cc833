// Checkpoints: round trip of params, moments, t and extra; pruning; corrupt
// shards detected and skipped; no temporary dirs left behind.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint/checkpoint.h"

namespace braid {
namespace {

namespace fs = std::filesystem;

// A small "module": two views, one without decay, with an optimizer.
struct Module {
  explicit Module(int hidden = 3) : opt(0, {}) {
    pb.Add("proj.weight", {2, hidden}, true);
    pb.Add("proj.bias", {hidden}, false);
    pb.Allocate();
    opt = AdamW(pb.size(), AdamWConfig{});
  }
  void Fill(float seed) {
    for (int64_t i = 0; i < pb.size(); ++i) {
      pb.params()[i] = seed + 0.25f * i;
      opt.m()[i] = -seed * i;
      opt.v()[i] = seed * seed + i;
    }
    opt.set_t(static_cast<int64_t>(seed * 10));
  }
  ParamBuffer pb;
  AdamW opt;
};

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "braid-ckpt-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = (root_ / "checkpoints").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::vector<std::string> Entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  Status Save(int64_t step, Module& enc, Module& llm, int keep, nlohmann::json extra = {}) {
    return SaveCheckpoint(dir_, step, {{"encoder", &enc.pb, &enc.opt}, {"llm", &llm.pb, nullptr}}, extra, keep);
  }
  std::string StepDir(int64_t step) const { return dir_ + "/step-" + std::to_string(step); }

  fs::path root_;
  std::string dir_;
};

TEST_F(CheckpointTest, RoundTripParamsMomentsStepAndExtra) {
  Module enc, llm(4);
  enc.Fill(1.5f);
  llm.Fill(-2.0f);
  const nlohmann::json extra = {{"data_cursor", 1234}, {"rng", {1, 2, 3}}, {"job", "demo"}};
  ASSERT_TRUE(Save(7, enc, llm, 0, extra).ok());
  EXPECT_EQ(Entries(), std::vector<std::string>{"step-7"});
  EXPECT_TRUE(fs::exists(StepDir(7) + "/encoder.safetensors"));
  EXPECT_TRUE(fs::exists(StepDir(7) + "/encoder.optim.safetensors"));
  EXPECT_TRUE(fs::exists(StepDir(7) + "/llm.safetensors"));
  EXPECT_FALSE(fs::exists(StepDir(7) + "/llm.optim.safetensors"));  // no optimizer given
  ASSERT_TRUE(VerifyCheckpoint(StepDir(7)).ok());

  Module enc2, llm2(4);
  llm2.Fill(9.0f);  // llm2's optimizer is not in the checkpoint: must stay untouched
  const std::vector<float> llm2_m = llm2.opt.m();
  StatusOr<nlohmann::json> got =
      LoadCheckpoint(StepDir(7), {{"encoder", &enc2.pb, &enc2.opt}, {"llm", &llm2.pb, nullptr}});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, extra);
  EXPECT_EQ(enc2.pb.params(), enc.pb.params());
  EXPECT_EQ(enc2.opt.m(), enc.opt.m());
  EXPECT_EQ(enc2.opt.v(), enc.opt.v());
  EXPECT_EQ(enc2.opt.t(), 15);
  EXPECT_EQ(llm2.pb.params(), llm.pb.params());
  EXPECT_EQ(llm2.opt.m(), llm2_m);
}

TEST_F(CheckpointTest, ManifestFollowsTheFormat) {
  Module enc, llm;
  enc.Fill(1.0f);
  ASSERT_TRUE(Save(3, enc, llm, 0, {{"a", 1}}).ok());
  std::ifstream in(StepDir(3) + "/manifest.json");
  const nlohmann::json m = nlohmann::json::parse(in);
  EXPECT_EQ(m["format"], "braid-checkpoint-v1");
  EXPECT_EQ(m["step"], 3);
  EXPECT_EQ(m["extra"], (nlohmann::json{{"a", 1}}));
  ASSERT_EQ(m["files"].size(), 3u);
  for (const auto& [name, f] : m["files"].items()) {
    EXPECT_EQ(f["crc32"].get<std::string>().size(), 8u) << name;
    EXPECT_EQ(f["bytes"].get<uint64_t>(), fs::file_size(StepDir(3) + "/" + name)) << name;
  }
}

TEST_F(CheckpointTest, KeepTwoPrunesOlderAndLeavesNoTempDirs) {
  Module enc, llm;
  for (int64_t step : {10, 20, 30, 40}) {
    enc.Fill(static_cast<float>(step));
    ASSERT_TRUE(Save(step, enc, llm, 2).ok());
  }
  EXPECT_EQ(Entries(), (std::vector<std::string>{"step-30", "step-40"}));
  // Re-saving an existing step replaces it.
  enc.Fill(1.0f);
  ASSERT_TRUE(Save(40, enc, llm, 2, {{"again", true}}).ok());
  EXPECT_EQ(Entries(), (std::vector<std::string>{"step-30", "step-40"}));
  Module back, back_llm;
  StatusOr<nlohmann::json> got =
      LoadCheckpoint(StepDir(40), {{"encoder", &back.pb, &back.opt}, {"llm", &back_llm.pb, nullptr}});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)["again"], true);
  EXPECT_EQ(back.pb.params(), enc.pb.params());
}

TEST_F(CheckpointTest, StaleTempDirOfDeadProcessIsCleaned) {
  Module enc, llm;
  ASSERT_TRUE(Save(1, enc, llm, 0).ok());
  // pid 2^22+1 is above the default pid_max range of most systems: "dead".
  fs::create_directories(dir_ + "/step-2.tmp-4194305/");
  std::ofstream(dir_ + "/step-2.tmp-4194305/encoder.safetensors") << "partial";
  ASSERT_TRUE(Save(3, enc, llm, 0).ok());
  EXPECT_EQ(Entries(), (std::vector<std::string>{"step-1", "step-3"}));
}

TEST_F(CheckpointTest, CorruptShardDetectedAndLatestGoodFallsBack) {
  Module enc, llm;
  enc.Fill(1.0f);
  ASSERT_TRUE(Save(100, enc, llm, 0).ok());
  enc.Fill(2.0f);
  ASSERT_TRUE(Save(200, enc, llm, 0).ok());

  StatusOr<std::string> latest = FindLatestGoodCheckpoint(dir_);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(*latest, StepDir(200));

  // Flip one byte in the middle of step-200's encoder shard (same size).
  const std::string shard = StepDir(200) + "/encoder.safetensors";
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(shard) - 5));
    f.put('\x7f');
  }
  Status st = VerifyCheckpoint(StepDir(200));
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find(shard), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("checksum"), std::string::npos) << st.ToString();

  Module back, back_llm;
  StatusOr<nlohmann::json> bad =
      LoadCheckpoint(StepDir(200), {{"encoder", &back.pb, &back.opt}, {"llm", &back_llm.pb, nullptr}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(shard), std::string::npos);
  EXPECT_EQ(back.opt.t(), 0);  // nothing loaded

  std::vector<std::string> skipped;
  latest = FindLatestGoodCheckpoint(dir_, &skipped);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(*latest, StepDir(100));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("step-200"), std::string::npos);

  // Truncated shard and a missing manifest are skipped too.
  fs::resize_file(StepDir(100) + "/llm.safetensors", 10);
  EXPECT_NE(VerifyCheckpoint(StepDir(100)).message().find("size"), std::string::npos);
  fs::remove(StepDir(200) + "/manifest.json");
  skipped.clear();
  latest = FindLatestGoodCheckpoint(dir_, &skipped);
  EXPECT_EQ(latest.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(skipped.size(), 2u);
  EXPECT_EQ(FindLatestGoodCheckpoint(dir_ + "/missing").status().code(), StatusCode::kNotFound);
}

TEST_F(CheckpointTest, ViewMismatchesNameTheTensor) {
  Module enc, llm;
  ASSERT_TRUE(Save(5, enc, llm, 0).ok());

  Module wide(5), other;  // proj.* with hidden 5 instead of 3
  StatusOr<nlohmann::json> r = LoadCheckpoint(StepDir(5), {{"encoder", &wide.pb, nullptr}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("proj.weight"), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("[2,5]"), std::string::npos) << r.status().ToString();

  ParamBuffer extra_view;
  extra_view.Add("proj.weight", {2, 3});
  extra_view.Add("proj.bias", {3}, false);
  extra_view.Add("gate", {1});
  extra_view.Allocate();
  r = LoadCheckpoint(StepDir(5), {{"encoder", &extra_view, nullptr}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("'gate'"), std::string::npos) << r.status().ToString();

  ParamBuffer fewer;
  fewer.Add("proj.weight", {2, 3});
  fewer.Allocate();
  r = LoadCheckpoint(StepDir(5), {{"encoder", &fewer, nullptr}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unexpected tensor 'proj.bias'"), std::string::npos) << r.status().ToString();

  r = LoadCheckpoint(StepDir(5), {{"generator", &other.pb, nullptr}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("generator.safetensors"), std::string::npos);

  // llm was saved without an optimizer: asking for its moments is an error.
  r = LoadCheckpoint(StepDir(5), {{"llm", &other.pb, &other.opt}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("llm.optim.safetensors"), std::string::npos);
}

TEST_F(CheckpointTest, RejectsBadModules) {
  Module enc;
  ParamBuffer unallocated;
  EXPECT_EQ(SaveCheckpoint(dir_, 1, {{"../evil", &enc.pb, nullptr}}, {}, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SaveCheckpoint(dir_, 1, {{"a", &unallocated, nullptr}}, {}, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SaveCheckpoint(dir_, 1, {{"a", &enc.pb, nullptr}, {"a", &enc.pb, nullptr}}, {}, 0).code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir_ + "/step-1"));
}

}  // namespace
}  // namespace braid
