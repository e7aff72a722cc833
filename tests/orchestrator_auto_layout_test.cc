// `parallel: auto` with the real planner: the tiny job's first batch, this
// host as the cluster, the registered workers as DP limits; the LLM's DP
// capped by the samples per microbatch.
#include "services/orchestrator/auto_layout.h"

#include <gtest/gtest.h>

#include <array>

#include "common/config/job_config.h"
#include "tests/test_files.h"

namespace braid::orchestrator {
namespace {

JobConfig TinyJob() {
  StatusOr<JobConfig> cfg = LoadJobConfig(testing_util::TestFilePath("tests/data/jobs/tiny.yaml"));
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  cfg->parallel.auto_layout = true;
  return *cfg;
}

TEST(AutoLayout, StaysWithinTheRegisteredWorkers) {
  const JobConfig cfg = TinyJob();
  // Four samples per microbatch (global_batch 8 / microbatches 2) cap the LLM
  // ranks; {1, 8, 1} registers more LLM workers than that, so there only the
  // cap keeps the LLM's DP at or below 4.
  ASSERT_EQ(cfg.train.global_batch / cfg.train.microbatches, 4);
  for (std::array<int, 3> w : {std::array<int, 3>{1, 1, 1}, {3, 2, 1}, {1, 4, 2}, {1, 8, 1}}) {
    StatusOr<Layout> l = PlanAutoLayout(cfg, w, LocalHostCluster());
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    for (Role r : kRoles) {
      EXPECT_GE(l->of(r).dp, 1);
      EXPECT_LE(l->of(r).dp, w[RoleIndex(r)]) << RoleName(r);
      EXPECT_EQ(l->of(r).tp, 1);
      EXPECT_EQ(l->of(r).pp, 1);
    }
    // Four samples per microbatch: never more LLM ranks than that.
    EXPECT_LE(l->llm.dp, cfg.train.global_batch / cfg.train.microbatches);
  }
}

// On a cluster where more LLM ranks always pay (dedicated devices, nearly
// free communication) the planner takes as many as it may: with 8 LLM
// workers registered, the 4 samples per microbatch are what stop it; with 3,
// the workers are.
TEST(AutoLayout, LlmDpStopsAtTheSamplesPerMicrobatchAndRanksAtTheWorkers) {
  const JobConfig cfg = TinyJob();
  plan::ClusterSpec c = LocalHostCluster();
  c.shared_compute = false;
  c.devices_per_node = c.devices = 64;
  c.intra_node_latency = c.inter_node_latency = 1e-9;
  c.intra_node_bandwidth = c.inter_node_bandwidth = 1e12;
  // DP never exceeds the samples of a microbatch; ranks (dp * tp * pp) never
  // exceed the registered workers. Both caps must bind somewhere.
  const int per_mb = cfg.train.global_batch / cfg.train.microbatches;
  StatusOr<Layout> capped = PlanAutoLayout(cfg, {1, 8, 1}, c);
  ASSERT_TRUE(capped.ok()) << capped.status().ToString();
  EXPECT_LE(capped->llm.dp, per_mb);
  EXPECT_LE(capped->llm.world(), 8);
  EXPECT_GT(capped->llm.world(), 1);  // free, fast devices: it uses more than one
  StatusOr<Layout> limited = PlanAutoLayout(cfg, {1, 3, 1}, c);
  ASSERT_TRUE(limited.ok()) << limited.status().ToString();
  EXPECT_LE(limited->llm.world(), 3);
  EXPECT_EQ(limited->generator.tp, 1);
  EXPECT_EQ(limited->encoder.pp, 1);
}

TEST(AutoLayout, BadProfileIsInvalidArgumentNamingIt) {
  JobConfig cfg = TinyJob();
  cfg.data.reorder_profile = "/nonexistent/profile.yaml";
  StatusOr<Layout> l = PlanAutoLayout(cfg, {1, 1, 1}, LocalHostCluster());
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(l.status().message().find("profile"), std::string::npos) << l.status().ToString();
}

}  // namespace
}  // namespace braid::orchestrator
