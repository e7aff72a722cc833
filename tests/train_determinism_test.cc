// End-to-end tests of `braid train --single-process` (the real binary, path in
// BRAID_BIN) on tests/data/jobs/tiny.yaml: determinism for a seed, the run
// directory contract (DESIGN.md §4) and resume.
//
// Each run takes ~2 s on 2 cores (mostly loading Fashion-MNIST); the suite
// makes 11 runs, sharing the reference runs between tests.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

const char* const kJob = "tests/data/jobs/tiny.yaml";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
  ASSERT_TRUE(out.good()) << p;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string line;
  while (std::getline(ss, line))
    if (!line.empty()) out.push_back(line);
  return out;
}

// The literal text of `"key":value` in one JSON line (byte-level comparison).
std::string RawField(const std::string& line, const std::string& key) {
  std::smatch m;
  const std::regex re("\"" + key + "\":([^,}]*)");
  if (!std::regex_search(line, m, re)) return "<missing " + key + ">";
  return m[1].str();
}

std::vector<std::string> RawLosses(const fs::path& run) {
  std::vector<std::string> out;
  for (const auto& l : Lines(ReadFile(run / "metrics.jsonl"))) out.push_back(RawField(l, "loss"));
  return out;
}

// Runs the binary; returns its exit code (or 128+signal). Output goes to
// files next to the run dir so a failure can show it.
struct Result {
  int code = -1;
  std::string out, err;
};

class TrainRuns : public ::testing::Test {
 protected:
  static fs::path scratch_;
  static Result Run(const std::string& args, const std::string& tag) {
    const fs::path out = scratch_ / (tag + ".stdout"), err = scratch_ / (tag + ".stderr");
    const std::string cmd = std::string(BRAID_BIN) + " " + args + " >" + out.string() + " 2>" + err.string();
    const int st = std::system(cmd.c_str());
    Result r;
    if (st == -1) r.code = -1;
    else if (WIFEXITED(st)) r.code = WEXITSTATUS(st);
    else if (WIFSIGNALED(st)) r.code = 128 + WTERMSIG(st);
    r.out = ReadFile(out);
    r.err = ReadFile(err);
    return r;
  }
  static Result Train(const std::string& job, const fs::path& run_dir, const std::string& extra,
                      const std::string& tag) {
    return Run("train " + job + " --single-process -q --run-dir " + run_dir.string() + " " + extra, tag);
  }
  // A copy of tiny.yaml with `from` replaced by `to` (must occur once).
  static std::string DerivedJob(const std::string& tag, const std::string& from, const std::string& to) {
    std::string y = ReadFile(kJob);
    const size_t at = y.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at == std::string::npos) return kJob;
    y.replace(at, from.size(), to);
    const fs::path p = scratch_ / (tag + ".yaml");
    WriteFile(p, y);
    return p.string();
  }

  // Reference runs shared by the tests: two with the same seed, one with another.
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/braid-train-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    scratch_ = tmpl;
    for (const char* tag : {"a", "b"}) {
      Result r = Train(kJob, scratch_ / tag, "", tag);
      ASSERT_EQ(r.code, 0) << tag << ": " << r.err;
    }
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    if (!scratch_.empty() && std::getenv("BRAID_KEEP_TEST_DIRS") == nullptr) fs::remove_all(scratch_, ec);
  }
  void SetUp() override {
    ASSERT_TRUE(fs::exists(scratch_ / "a" / "metrics.jsonl")) << "the reference runs failed (see above)";
  }
};
fs::path TrainRuns::scratch_;

TEST_F(TrainRuns, SameSeedIsBitIdentical) {
  const fs::path a = scratch_ / "a", b = scratch_ / "b";
  const auto la = RawLosses(a), lb = RawLosses(b);
  ASSERT_EQ(la.size(), 4u);
  EXPECT_EQ(la, lb);
  for (const char* key : {"text_loss", "gen_loss", "tokens", "samples"}) {
    const auto ma = Lines(ReadFile(a / "metrics.jsonl")), mb = Lines(ReadFile(b / "metrics.jsonl"));
    ASSERT_EQ(ma.size(), mb.size());
    for (size_t i = 0; i < ma.size(); ++i) EXPECT_EQ(RawField(ma[i], key), RawField(mb[i], key)) << key << " step " << i;
  }
  EXPECT_EQ(ReadFile(a / "ledger.jsonl"), ReadFile(b / "ledger.jsonl"));
  EXPECT_EQ(ReadFile(a / "job.yaml"), ReadFile(b / "job.yaml"));
  // The final weights too.
  for (const char* f : {"encoder.safetensors", "llm.safetensors", "generator.safetensors"})
    EXPECT_EQ(ReadFile(a / "checkpoints/step-4" / f), ReadFile(b / "checkpoints/step-4" / f)) << f;
}

// With two compute threads (OpenMP loops + OpenBLAS) the result may differ
// from one thread in the last bits, but never between two runs.
TEST_F(TrainRuns, SameSeedIsBitIdenticalWithTwoThreads) {
  const fs::path t1 = scratch_ / "threads2-a", t2 = scratch_ / "threads2-b";
  Result r = Train(kJob, t1, "--threads 2", "threads2-a");
  ASSERT_EQ(r.code, 0) << r.err;
  r = Train(kJob, t2, "--threads 2", "threads2-b");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(RawLosses(t1), RawLosses(t2));
  EXPECT_EQ(ReadFile(t1 / "ledger.jsonl"), ReadFile(t2 / "ledger.jsonl"));
  EXPECT_EQ(ReadFile(t1 / "checkpoints/step-4/llm.safetensors"), ReadFile(t2 / "checkpoints/step-4/llm.safetensors"));
}

TEST_F(TrainRuns, RunDirectoryLayout) {
  const fs::path a = scratch_ / "a";
  const auto metrics = Lines(ReadFile(a / "metrics.jsonl"));
  ASSERT_EQ(metrics.size(), 4u);
  for (size_t i = 0; i < metrics.size(); ++i) {
    json j = json::parse(metrics[i], nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << metrics[i];
    for (const char* key : {"step", "loss", "text_loss", "gen_loss", "tokens", "samples", "step_seconds"})
      EXPECT_TRUE(j.contains(key)) << "metrics.jsonl line " << i << " lacks " << key;
    EXPECT_EQ(j.value("step", -1), int64_t(i));
    EXPECT_EQ(j.value("samples", -1), 8);
    EXPECT_GT(j.value("tokens", 0), 0);
    const double loss = j.value("loss", -1.0);
    EXPECT_TRUE(std::isfinite(loss) && loss > 0) << loss;
    EXPECT_NEAR(loss, j.value("text_loss", 0.0) + j.value("gen_loss", 0.0), 1e-9);
    EXPECT_GE(j.value("step_seconds", -1.0), 0.0);
  }
  const auto ledger = Lines(ReadFile(a / "ledger.jsonl"));
  ASSERT_EQ(ledger.size(), 4u);
  std::map<int64_t, int> seen;
  for (size_t i = 0; i < ledger.size(); ++i) {
    json j = json::parse(ledger[i], nullptr, false);
    ASSERT_TRUE(j.is_object()) << ledger[i];
    EXPECT_EQ(j.size(), 2u) << ledger[i];
    EXPECT_EQ(j.value("step", -1), int64_t(i));
    ASSERT_TRUE(j.contains("samples") && j["samples"].is_array()) << ledger[i];
    EXPECT_EQ(j["samples"].size(), 8u);
    for (const auto& id : j["samples"]) {
      ASSERT_TRUE(id.is_number_integer()) << ledger[i];
      EXPECT_GE(id.get<int64_t>(), 0);
      EXPECT_LT(id.get<int64_t>(), 1000);  // data.epoch_samples
      ++seen[id.get<int64_t>()];
    }
  }
  // Within one epoch no sample repeats.
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << "sample " << id;
  EXPECT_TRUE(fs::is_regular_file(a / "job.yaml"));
  EXPECT_NE(ReadFile(a / "job.yaml").find("tiny"), std::string::npos);
  for (const char* step : {"step-2", "step-4"}) {
    const fs::path ck = a / "checkpoints" / step;
    ASSERT_TRUE(fs::is_regular_file(ck / "manifest.json")) << ck;
    json man = json::parse(ReadFile(ck / "manifest.json"), nullptr, false);
    ASSERT_TRUE(man.is_object()) << ck;
    for (const char* f : {"encoder.safetensors", "llm.safetensors", "generator.safetensors"}) {
      EXPECT_TRUE(fs::is_regular_file(ck / f)) << ck / f;
      EXPECT_TRUE(man.contains("files") && man["files"].contains(f)) << "manifest lacks " << f;
    }
  }
  EXPECT_FALSE(fs::exists(a / "checkpoints" / "step-1"));
  EXPECT_FALSE(fs::exists(a / "checkpoints" / "step-3"));
}

TEST_F(TrainRuns, DifferentSeedDiffers) {
  const std::string job = DerivedJob("seed8", "seed: 7", "seed: 8");
  const fs::path c = scratch_ / "c";
  Result r = Train(job, c, "", "c");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto la = RawLosses(scratch_ / "a"), lc = RawLosses(c);
  ASSERT_EQ(lc.size(), 4u);
  for (size_t i = 0; i < la.size(); ++i) EXPECT_NE(la[i], lc[i]) << "step " << i;
  EXPECT_NE(ReadFile(scratch_ / "a" / "ledger.jsonl"), ReadFile(c / "ledger.jsonl"));
}

TEST_F(TrainRuns, RefusesNonEmptyRunDirWithoutResume) {
  const fs::path d = scratch_ / "a-copy-norestart";
  fs::copy(scratch_ / "a", d, fs::copy_options::recursive);
  const std::string before = ReadFile(d / "metrics.jsonl");
  Result r = Train(kJob, d, "", "norestart");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(d.string()), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(d / "metrics.jsonl"), before);
}

// --resume on a finished run: nothing to do, nothing changed.
TEST_F(TrainRuns, ResumeFinishedRunIsHarmless) {
  const fs::path d = scratch_ / "a-copy-finished";
  fs::copy(scratch_ / "a", d, fs::copy_options::recursive);
  Result r = Train(kJob, d, "--resume", "finished");
  EXPECT_EQ(r.code, 0) << r.err;
  for (const char* f : {"metrics.jsonl", "ledger.jsonl", "job.yaml", "checkpoints/step-4/manifest.json",
                        "checkpoints/step-4/llm.safetensors", "checkpoints/step-2/manifest.json"})
    EXPECT_EQ(ReadFile(d / f), ReadFile(scratch_ / "a" / f)) << f;
}

// An interrupted run (the step-4 checkpoint never written) resumed from step-2
// reproduces the uninterrupted run bit for bit: losses, ledger, final weights.
TEST_F(TrainRuns, ResumeAfterLostCheckpointReproduces) {
  const fs::path d = scratch_ / "a-copy-lost";
  fs::copy(scratch_ / "a", d, fs::copy_options::recursive);
  fs::remove_all(d / "checkpoints" / "step-4");
  Result r = Train(kJob, d, "--resume", "lost");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(RawLosses(d), RawLosses(scratch_ / "a"));
  EXPECT_EQ(ReadFile(d / "ledger.jsonl"), ReadFile(scratch_ / "a" / "ledger.jsonl"));
  for (const char* f : {"encoder.safetensors", "llm.safetensors", "generator.safetensors",
                        "encoder.optim.safetensors", "llm.optim.safetensors", "generator.optim.safetensors"})
    EXPECT_EQ(ReadFile(d / "checkpoints/step-4" / f), ReadFile(scratch_ / "a/checkpoints/step-4" / f)) << f;
}

// `--steps 2`, then `--resume` with the job's 4 steps in the same run dir,
// equals an uninterrupted 4-step run from step 2 on. The LR schedule spans
// train.steps, so this is exact only for a schedule that does not depend on
// the total (constant); with cosine the first two steps used another LR.
TEST_F(TrainRuns, ResumeShortRunToFullLength) {
  const std::string job = DerivedJob("constant", "schedule: cosine", "schedule: constant");
  const fs::path full = scratch_ / "const-full", split = scratch_ / "const-split";
  Result r = Train(job, full, "", "const-full");
  ASSERT_EQ(r.code, 0) << r.err;
  r = Train(job, split, "--steps 2", "const-split-1");
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(RawLosses(split).size(), 2u);
  ASSERT_TRUE(fs::exists(split / "checkpoints/step-2/manifest.json"));
  r = Train(job, split, "--resume", "const-split-2");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lf = RawLosses(full), ls = RawLosses(split);
  ASSERT_EQ(ls.size(), 4u);
  EXPECT_EQ(ls, lf);
  EXPECT_EQ(ReadFile(split / "ledger.jsonl"), ReadFile(full / "ledger.jsonl"));
  EXPECT_EQ(ReadFile(split / "checkpoints/step-4/llm.safetensors"), ReadFile(full / "checkpoints/step-4/llm.safetensors"));
}

}  // namespace
