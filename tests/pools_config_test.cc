// Pools manifests (deploy/local/pools.yaml and friends): the shipped file
// loads with the values it documents, bad fields are named by their path,
// and pools sized from a job follow its layout.
#include "cli/pools_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "tests/temp_dir.h"

namespace braid::cli {
namespace {

TEST(PoolsConfig, TheShippedLocalPoolsLoad) {
  StatusOr<PoolsConfig> c = LoadPoolsConfig("deploy/local/pools.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->encoder.workers, 1);
  EXPECT_EQ(c->encoder.threads, 1);
  EXPECT_FALSE(c->encoder.adaptive_threads);
  EXPECT_EQ(c->llm.threads, 2);
  EXPECT_TRUE(c->llm.adaptive_threads);
  EXPECT_FALSE(c->generator.adaptive_threads);
}

TEST(PoolsConfig, BadFieldsAreNamedByTheirPath) {
  testing_util::ScopedTempDir dir("braid_pools_");
  const std::string path = dir.path() + "/pools.yaml";
  auto load = [&](const std::string& text) {
    std::ofstream(path) << text;
    return LoadPoolsConfig(path).status();
  };
  Status s = load("pools:\n  llm: {workers: 1, adaptive_threads: sometimes}\n");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("pools.llm.adaptive_threads"), std::string::npos) << s.ToString();
  s = load("pools:\n  encoder: {workers: 1, threads: 0}\n");
  EXPECT_NE(s.message().find("pools.encoder.threads"), std::string::npos) << s.ToString();
  s = load("pools:\n  generator: {workers: 1, cores: 2}\n");
  EXPECT_NE(s.message().find("cores"), std::string::npos) << s.ToString();
  s = load("pools: [\n");
  EXPECT_NE(s.message().find(path + ":"), std::string::npos) << s.ToString();
  EXPECT_TRUE(load("pools:\n  llm: {workers: 3, threads: 1, adaptive_threads: false}\n").ok());
  s = load("pools:\n  llm: {workers: 1, metrics_listen: [1]}\n");
  EXPECT_NE(s.message().find("pools.llm.metrics_listen"), std::string::npos) << s.ToString();
}

TEST(PoolsConfig, WorkerMetricsCanBeTurnedOff) {
  testing_util::ScopedTempDir dir("braid_pools_");
  const std::string path = dir.path() + "/pools.yaml";
  std::ofstream(path) << "pools:\n  llm: {workers: 2, metrics_listen: \"\"}\n";
  StatusOr<PoolsConfig> c = LoadPoolsConfig(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->llm.metrics_listen, "");
  EXPECT_EQ(c->encoder.metrics_listen, "127.0.0.1:0");  // the default: any free loopback port
}

TEST(PoolsConfig, PoolsForAJobFollowItsLayout) {
  JobConfig job;
  job.parallel.encoder.dp = 3;
  job.parallel.llm.dp = 2;
  job.parallel.generator.dp = 1;
  const PoolsConfig c = PoolsForJob(job);
  EXPECT_EQ(c.encoder.workers, 3);
  EXPECT_EQ(c.llm.workers, 2);
  EXPECT_EQ(c.generator.workers, 1);
  EXPECT_EQ(c.encoder.threads, 1);
  EXPECT_EQ(c.llm.threads, std::max(1, int(std::thread::hardware_concurrency())));
  EXPECT_TRUE(c.llm.adaptive_threads);
  EXPECT_FALSE(c.generator.adaptive_threads);
}

}  // namespace
}  // namespace braid::cli
