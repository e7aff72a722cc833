// `parallel: auto` with the real planner: the tiny job's first batch, this
// host as the cluster, the registered workers as DP limits.
#include "services/orchestrator/auto_layout.h"

#include <gtest/gtest.h>

#include "common/config/job_config.h"

namespace braid::orchestrator {
namespace {

JobConfig TinyJob() {
  StatusOr<JobConfig> cfg = LoadJobConfig(std::string(BRAID_SOURCE_DIR) + "/tests/data/jobs/tiny.yaml");
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  cfg->parallel.auto_layout = true;
  return *cfg;
}

TEST(AutoLayout, StaysWithinTheRegisteredWorkers) {
  const JobConfig cfg = TinyJob();
  for (std::array<int, 3> w : {std::array<int, 3>{1, 1, 1}, {3, 2, 1}, {1, 4, 2}}) {
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
