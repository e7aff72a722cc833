// Device selection (docs/GPU.md step 7), the parsing side: the job spec's
// top-level `device` (default cpu, checked, written back) and the pools
// file's per-pool `device` and `device_index`.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "cli/pools_config.h"
#include "common/config/job_config.h"
#include "tests/temp_dir.h"

namespace braid {
namespace {

// Fixture paths from the source tree (ctest runs in the repository root).
const char kData[] = "data: {fashion_mnist: tests/data/config, fortunes: tests/data/config/fortunes.txt}\n";

TEST(JobDevice, DefaultsToCpu) {
  StatusOr<JobConfig> c = ParseJobConfig(kData);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->device, "cpu");
}

TEST(JobDevice, CpuAndCudaParseAndRoundTrip) {
  for (const char* device : {"cpu", "cuda"}) {
    StatusOr<JobConfig> c = ParseJobConfig(std::string(kData) + "device: " + device + "\n");
    ASSERT_TRUE(c.ok()) << device << ": " << c.status().ToString();
    EXPECT_EQ(c->device, device);
    const std::string yaml = JobConfigToYaml(*c);
    EXPECT_NE(yaml.find(std::string("device: \"") + device + "\"\n"), std::string::npos) << yaml;
    StatusOr<JobConfig> back = ParseJobConfig(yaml, "resolved");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(*back == *c);
  }
}

TEST(JobDevice, BadValuesNameTheField) {
  auto error = [](const std::string& line) {
    StatusOr<JobConfig> c = ParseJobConfig(std::string(kData) + line);
    EXPECT_FALSE(c.ok()) << line;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    return c.status().message();
  };
  EXPECT_EQ(error("device: gpu\n"), "device: must be one of cpu, cuda, got 'gpu'");
  EXPECT_EQ(error("device: CUDA\n"), "device: must be one of cpu, cuda, got 'CUDA'");
  EXPECT_EQ(error("device: \"\"\n"), "device: must be one of cpu, cuda, got ''");
  EXPECT_EQ(error("device: [cuda]\n"), "device: expected a string, got a sequence");
  EXPECT_EQ(error("model: {device: cuda}\n"), "model.device: unknown key");
}

TEST(JobPrecision, Bf16ParsesOnCudaAndRoundTrips) {
  StatusOr<JobConfig> c = ParseJobConfig(std::string(kData) + "device: cuda\nprecision: bf16\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->precision, "bf16");
  StatusOr<JobConfig> back = ParseJobConfig(JobConfigToYaml(*c), "resolved");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(*back == *c);
  StatusOr<JobConfig> d = ParseJobConfig(kData);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->precision, "fp32");
}

TEST(JobPrecision, BadValuesAndBf16OnTheCpuAreRefused) {
  auto error = [](const std::string& lines) {
    StatusOr<JobConfig> c = ParseJobConfig(std::string(kData) + lines);
    EXPECT_FALSE(c.ok()) << lines;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    return c.status().message();
  };
  EXPECT_EQ(error("precision: fp16\n"), "precision: must be one of fp32, bf16, got 'fp16'");
  EXPECT_EQ(error("precision: bf16\n"), "precision: bf16 needs device: cuda (the CPU computes in fp32)");
}

TEST(JobDevice, ValidateCatchesAnOverride) {
  JobConfig c;
  c.data.fashion_mnist = "tests/data/config";
  c.data.fortunes = "tests/data/config/fortunes.txt";
  c.device = "tpu";
  EXPECT_EQ(ValidateJobConfig(c).message(), "device: must be one of cpu, cuda, got 'tpu'");
}

class PoolsDevice : public ::testing::Test {
 protected:
  StatusOr<cli::PoolsConfig> Load(const std::string& text) {
    const std::string path = dir_.path() + "/pools.yaml";
    std::ofstream(path) << text;
    return cli::LoadPoolsConfig(path);
  }
  std::string Error(const std::string& text) {
    StatusOr<cli::PoolsConfig> c = Load(text);
    EXPECT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    return c.status().message();
  }
  testing_util::ScopedTempDir dir_{"braid_pools_device_"};
};

TEST_F(PoolsDevice, TheShippedPoolsAreCpu) {
  StatusOr<cli::PoolsConfig> c = cli::LoadPoolsConfig("deploy/local/pools.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  for (const cli::PoolSpec* p : {&c->encoder, &c->llm, &c->generator}) {
    EXPECT_EQ(p->device, "cpu");
    EXPECT_TRUE(p->device_index.empty());
  }
}

TEST_F(PoolsDevice, AbsentIndexIsOneWorkerPerDevice) {
  StatusOr<cli::PoolsConfig> c = Load("pools:\n  llm: {workers: 4, device: cuda}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->llm.device, "cuda");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(cli::DeviceIndexOf(c->llm, i), i);
  EXPECT_EQ(c->encoder.device, "cpu");
}

TEST_F(PoolsDevice, OneIndexForEveryWorkerOrOnePerWorker) {
  StatusOr<cli::PoolsConfig> c = Load(
      "pools:\n"
      "  encoder: {workers: 2, device: cuda, device_index: 3}\n"
      "  llm: {workers: 3, device: cuda, device_index: [2, 0, 1]}\n"
      "  generator: {workers: 1, device: cuda, device_index: [0]}\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(cli::DeviceIndexOf(c->encoder, 0), 3);
  EXPECT_EQ(cli::DeviceIndexOf(c->encoder, 1), 3);
  EXPECT_EQ(cli::DeviceIndexOf(c->llm, 0), 2);
  EXPECT_EQ(cli::DeviceIndexOf(c->llm, 1), 0);
  EXPECT_EQ(cli::DeviceIndexOf(c->llm, 2), 1);
  EXPECT_EQ(cli::DeviceIndexOf(c->generator, 0), 0);
}

TEST_F(PoolsDevice, BadFieldsAreNamedByTheirPath) {
  EXPECT_EQ(Error("pools:\n  llm: {device: gpu}\n"), "pools.llm.device: must be one of cpu, cuda, got 'gpu'");
  EXPECT_EQ(Error("pools:\n  llm: {device: [cuda]}\n"), "pools.llm.device: expected a string, got a sequence");
  EXPECT_EQ(Error("pools:\n  encoder: {workers: 2, device_index: 1}\n"),
            "pools.encoder.device_index: only for device: cuda");
  EXPECT_EQ(Error("pools:\n  llm: {workers: 2, device: cuda, device_index: [0, 1, 2]}\n"),
            "pools.llm.device_index: 3 entries for 2 workers (one device per worker)");
  EXPECT_EQ(Error("pools:\n  llm: {workers: 2, device: cuda, device_index: [0, -1]}\n"),
            "pools.llm.device_index[1]: must be non-negative, got -1");
  EXPECT_EQ(Error("pools:\n  llm: {device: cuda, device_index: -2}\n"),
            "pools.llm.device_index: must be non-negative, got -2");
  EXPECT_EQ(Error("pools:\n  llm: {device: cuda, device_index: auto}\n"),
            "pools.llm.device_index: expected an integer, got 'auto'");
  EXPECT_EQ(Error("pools:\n  llm: {device: cuda, device_index: [a]}\n"),
            "pools.llm.device_index[0]: expected an integer, got 'a'");
}

TEST_F(PoolsDevice, PoolsForAJobUseItsDevice) {
  JobConfig job;
  job.device = "cuda";
  job.parallel.llm.dp = 2;
  const cli::PoolsConfig c = cli::PoolsForJob(job);
  for (const cli::PoolSpec* p : {&c.encoder, &c.llm, &c.generator}) EXPECT_EQ(p->device, "cuda");
  EXPECT_EQ(cli::DeviceIndexOf(c.llm, 1), 1);
  EXPECT_EQ(cli::PoolsForJob(JobConfig{}).llm.device, "cpu");
}

}  // namespace
}  // namespace braid
