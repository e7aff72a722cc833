// Cost profiles (`braid profile` output): the fit recovers known
// coefficients, the YAML round-trips, bad files name the field.
#include "common/reorder/cost_profile.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "tests/temp_dir.h"

namespace braid::reorder {
namespace {

TEST(FitLinearQuadratic, RecoversExactCoefficients) {
  std::vector<std::pair<double, double>> pts;
  for (double x : {16.0, 32.0, 64.0, 128.0, 256.0}) pts.push_back({x, 3e-5 * x + 2e-8 * x * x});
  auto [a, b] = FitLinearQuadratic(pts);
  EXPECT_NEAR(a, 3e-5, 1e-12);
  EXPECT_NEAR(b, 2e-8, 1e-14);
}

TEST(FitLinearQuadratic, NeverNegative) {
  // Sub-linear data would fit a negative quadratic term: clamp it, refit.
  std::vector<std::pair<double, double>> pts;
  for (double x : {10.0, 20.0, 40.0, 80.0}) pts.push_back({x, 5.0 * std::sqrt(x)});
  auto [a, b] = FitLinearQuadratic(pts);
  EXPECT_GE(a, 0.0);
  EXPECT_GE(b, 0.0);
  EXPECT_GT(a + b, 0.0);
}

class CostProfileFiles : public ::testing::Test {
 protected:
  CostProfileFiles() : dir_("braid_profile_") {}
  std::string Write(const std::string& text) {
    const std::string p = dir_.path() + "/p.yaml";
    std::ofstream(p) << text;
    return p;
  }
  testing_util::ScopedTempDir dir_;
};

TEST_F(CostProfileFiles, RoundTrip) {
  CostModel c;
  c.enc_linear = 1.5e-6, c.enc_attn = 2e-9, c.llm_linear = 3e-5, c.llm_attn = 4e-8, c.gen_target = 2e-3;
  c.backward_ratio = 1.9;
  CostProfile p;
  p.cost = c;
  p.threads = 2;
  p.speedup[1] = 1.75;
  p.runtime_overhead = 1.125;
  StatusOr<CostProfile> full = LoadFullCostProfile(Write(CostProfileYaml(p, "cpu", "tiny")));
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  const CostModel* r = &full->cost;
  EXPECT_NEAR(r->enc_linear, c.enc_linear, 1e-11);
  EXPECT_NEAR(r->llm_attn, c.llm_attn, 1e-13);
  EXPECT_NEAR(r->gen_target, c.gen_target, 1e-8);
  EXPECT_NEAR(r->backward_ratio, 1.9, 1e-9);
  EXPECT_EQ(full->threads, 2);
  EXPECT_NEAR(full->speedup[0], 1.0, 1e-9);
  EXPECT_NEAR(full->speedup[1], 1.75, 1e-9);
  EXPECT_NEAR(full->runtime_overhead, 1.125, 1e-9);
  ASSERT_TRUE(LoadCostProfile(Write(CostProfileYaml(p, "cpu", "tiny"))).ok());
}

TEST_F(CostProfileFiles, BadFilesNameTheField) {
  const std::string good = "encoder: {linear: 1, attention: 0}\nllm: {linear: 1, attention: 0}\n"
                           "generator: {target: 1}\nbackward_ratio: 2\n";
  EXPECT_TRUE(LoadCostProfile(Write(good)).ok());
  auto msg = [&](const std::string& text) { return LoadCostProfile(Write(text)).status().message(); };
  EXPECT_NE(msg("llm: {linear: 1, attention: 0}\ngenerator: {target: 1}\nbackward_ratio: 2\n").find("encoder.linear: missing"),
            std::string::npos);
  EXPECT_NE(msg("encoder: {linear: -1, attention: 0}\nllm: {linear: 1, attention: 0}\ngenerator: {target: 1}\nbackward_ratio: 2\n")
                .find("encoder.linear: must be >= 0"),
            std::string::npos);
  EXPECT_NE(msg("encoder: {linear: 1, attention: 0}\nllm: {linear: x, attention: 0}\ngenerator: {target: 1}\nbackward_ratio: 2\n")
                .find("llm.linear: expected a number"),
            std::string::npos);
  EXPECT_NE(msg("encoder: {linear: 1, attention: 0}\nllm: {linear: 1, attention: 0}\ngenerator: {target: 1}\nbackward_ratio: 0\n")
                .find("backward_ratio: must be > 0"),
            std::string::npos);
  EXPECT_NE(msg("encoder: [\n").find("p.yaml:"), std::string::npos);
  EXPECT_NE(msg(good + "speedup: {encoder: 1, llm: 0, generator: 1}\n").find("speedup.llm: must be > 0"),
            std::string::npos);
  EXPECT_NE(msg(good + "speedup: {encoder: 1, llm: 2}\n").find("speedup.generator: missing"), std::string::npos);
  EXPECT_NE(msg(good + "runtime_overhead: 0\n").find("runtime_overhead: must be > 0"), std::string::npos);
  EXPECT_NE(msg(good + "threads: 0\n").find("threads: must be >= 1"), std::string::npos);
  EXPECT_NE(LoadCostProfile(dir_.path() + "/none.yaml").status().message().find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace braid::reorder
