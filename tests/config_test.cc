// Job spec tests: the demo example, round trips, and the exact one-line
// message of every bad input. Runs from the repo root (fixtures are relative).
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "common/config/job_config.h"

namespace braid {
namespace {

// Fixture paths that exist in the source tree, so most cases do not depend
// on the installed datasets.
const char kData[] = "data: {fashion_mnist: tests/data/config, fortunes: tests/data/config/fortunes.txt}\n";

// Parses `yaml` and expects exactly `message` (InvalidArgument, one line).
void ExpectError(const std::string& yaml, const std::string& message) {
  StatusOr<JobConfig> r = ParseJobConfig(yaml);
  ASSERT_FALSE(r.ok()) << "parsed without error:\n" << yaml;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), message) << "input:\n" << yaml;
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
}

// Same, with the fixture data section prepended.
void ExpectErrorWithData(const std::string& yaml, const std::string& message) {
  ExpectError(kData + yaml, message);
}

JobConfig FixtureConfig() {
  JobConfig cfg;
  cfg.data.fashion_mnist = "tests/data/config";
  cfg.data.fortunes = "tests/data/config/fortunes.txt";
  return cfg;
}

TEST(JobConfig, ExampleIsTheDefaults) {
  StatusOr<JobConfig> r = LoadJobConfig("examples/fashion-mllm.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  JobConfig expected;
  expected.name = "fashion-mllm";
  EXPECT_TRUE(*r == expected) << JobConfigToYaml(*r);
  EXPECT_EQ(r->checkpoint.every, 500);
  EXPECT_EQ(r->checkpoint.keep, 3);
}

TEST(JobConfig, ExampleWritesOutEveryKey) {
  std::ifstream in("examples/fashion-mllm.yaml");
  std::stringstream example;
  example << in.rdbuf();
  std::istringstream resolved(JobConfigToYaml(JobConfig{}));
  for (std::string line; std::getline(resolved, line);) {
    std::string key = line.substr(0, line.find(':') + 1);
    while (!key.empty() && key[0] == ' ') key.erase(0, 1);
    if (key == "auto_layout:") continue;  // the example uses the module layouts
    EXPECT_NE(example.str().find(key), std::string::npos) << key;
  }
}

TEST(JobConfig, EmptySectionsMeanDefaults) {
  StatusOr<JobConfig> r = ParseJobConfig(std::string(kData) + "train:\nmodel: {}\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r == FixtureConfig());
}

TEST(JobConfig, RoundTripDefaults) {
  JobConfig cfg = FixtureConfig();
  StatusOr<JobConfig> back = ParseJobConfig(JobConfigToYaml(cfg), "resolved");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(*back == cfg) << JobConfigToYaml(*back);
}

TEST(JobConfig, RoundTripUnusualValues) {
  JobConfig cfg = FixtureConfig();
  cfg.name = "null";  // would read back as an empty value if written plain
  cfg.seed = UINT64_MAX;
  cfg.data.manifest = "tests/data/config/manifest.jsonl";
  cfg.parallel.llm = {1, 1, 2, {1, 1}};  // an explicit pipeline split
  cfg.data.mix = {0.1 + 0.2, 1e-5, 0, 3};
  cfg.data.epoch_samples = int64_t{1} << 40;
  cfg.data.reorder = "balanced";
  cfg.train.lr = 1.0 / 3.0;
  cfg.train.min_lr = 0;
  cfg.train.schedule = "linear";
  cfg.train.grad_clip = 0;
  cfg.train.threads = 2;
  cfg.parallel.auto_layout = true;
  cfg.parallel.encoder = {3, 1, 1, {}};
  cfg.parallel.llm = {2, 2, 2, {}};
  cfg.parallel.generator = {1, 4, 1, {}};
  cfg.checkpoint.dir = "runs/\"odd\" \\dir: #1";
  ASSERT_TRUE(ValidateJobConfig(cfg).ok()) << ValidateJobConfig(cfg).ToString();
  std::string yaml = JobConfigToYaml(cfg);
  StatusOr<JobConfig> back = ParseJobConfig(yaml, "resolved");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  EXPECT_TRUE(*back == cfg) << yaml << "\n---\n" << JobConfigToYaml(*back);
}

TEST(JobConfig, ParallelAuto) {
  StatusOr<JobConfig> r = ParseJobConfig(std::string(kData) + "parallel: auto\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->parallel.auto_layout);
  r = ParseJobConfig(std::string(kData) + "parallel: {auto_layout: true, llm: {dp: 2}}\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->parallel.auto_layout);
  EXPECT_EQ(r->parallel.llm.dp, 2);
}

TEST(JobConfig, AcceptedScalars) {
  StatusOr<JobConfig> r = ParseJobConfig(std::string(kData) +
                                         "seed: 18446744073709551615\n"
                                         "train: {lr: 2e-3, min_lr: 0, weight_decay: +0.5, steps: +40, warmup_steps: 10}\n"
                                         "name: 123\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->seed, UINT64_MAX);
  EXPECT_EQ(r->train.lr, 2e-3);
  EXPECT_EQ(r->train.min_lr, 0.0);
  EXPECT_EQ(r->train.weight_decay, 0.5);
  EXPECT_EQ(r->train.steps, 40);
  EXPECT_EQ(r->name, "123");
}

TEST(JobConfig, UnknownKeys) {
  ExpectErrorWithData("train: {stepz: 10}\n", "train.stepz: unknown key");
  ExpectErrorWithData("trian: {steps: 10}\n", "trian: unknown key");
  ExpectErrorWithData("model: {encoder: {depth: 3}}\n", "model.encoder.depth: unknown key");
  ExpectErrorWithData("data2: 1\n", "data2: unknown key");
  ExpectErrorWithData("parallel: {llm: {dp: 1, ep: 2}}\n", "parallel.llm.ep: unknown key");
  ExpectError("data: {fashion_mnist: tests/data/config, mix: {images: 1}}\n",
              "data.mix.images: unknown key");
  ExpectErrorWithData("train: {steps: 10}\ntrain: {steps: 20}\n", "train: duplicate key");
}

TEST(JobConfig, WrongTypes) {
  ExpectErrorWithData("train: {steps: ten}\n", "train.steps: expected an integer, got 'ten'");
  ExpectErrorWithData("train: {steps: 1.5}\n", "train.steps: expected an integer, got '1.5'");
  ExpectErrorWithData("train: {steps: \"10\"}\n",
                      "train.steps: expected an integer, got the quoted string \"10\"");
  ExpectErrorWithData("train: {steps: [1]}\n", "train.steps: expected an integer, got a sequence");
  ExpectErrorWithData("train:\n  steps:\n", "train.steps: expected an integer, got an empty value");
  ExpectErrorWithData("train: {steps: 99999999999}\n", "train.steps: 99999999999 is out of range");
  ExpectErrorWithData("train: {lr: fast}\n", "train.lr: expected a number, got 'fast'");
  ExpectErrorWithData("train: {lr: inf}\n", "train.lr: expected a finite number, got 'inf'");
  ExpectErrorWithData("train: 5\n", "train: expected a mapping, got '5'");
  ExpectErrorWithData("model: {llm: [1, 2]}\n", "model.llm: expected a mapping, got a sequence");
  ExpectErrorWithData("seed: -1\n", "seed: expected a non-negative integer, got '-1'");
  ExpectErrorWithData("name: {first: a}\n", "name: expected a string, got a mapping");
  ExpectErrorWithData("parallel: manual\n", "parallel: expected a mapping or 'auto', got 'manual'");
  ExpectErrorWithData("parallel: {auto_layout: maybe}\n",
                      "parallel.auto_layout: expected true or false, got 'maybe'");
}

TEST(JobConfig, ModelChecks) {
  ExpectErrorWithData("model: {llm: {heads: 6}}\n", "model.llm.heads: 6 does not divide width 128");
  ExpectErrorWithData("model: {encoder: {heads: 3}}\n", "model.encoder.heads: 3 does not divide width 64");
  ExpectErrorWithData("model: {generator: {heads: 5}}\n",
                      "model.generator.heads: 5 does not divide width 64");
  ExpectErrorWithData("model: {encoder: {image_size: 30}}\n",
                      "model.encoder.image_size: 30 is not divisible by patch 7");
  ExpectErrorWithData("model: {generator: {image_size: 30}}\n",
                      "model.generator.image_size: 30 is not divisible by patch 4");
  ExpectErrorWithData("model: {generator: {image_size: 32}}\n",
                      "model.generator.image_size: 32 must equal model.encoder.image_size 28");
  ExpectErrorWithData("model: {encoder: {width: 0}}\n", "model.encoder.width: must be positive, got 0");
  ExpectErrorWithData("model: {llm: {layers: -2}}\n", "model.llm.layers: must be positive, got -2");
  ExpectErrorWithData("model: {llm: {vocab: 100}}\n",
                      "model.llm.vocab: must be at least 264 (256 bytes + special tokens), got 100");
  ExpectErrorWithData("model: {generator: {sample_steps: 2000}}\n",
                      "model.generator.sample_steps: 2000 exceeds diffusion_steps 1000");
  ExpectErrorWithData("model: {llm: {max_seq: 100}}\n",
                      "model.llm.max_seq: 100 is too short for 8 images of 16 patches "
                      "(data.max_images); need at least 208");
}

TEST(JobConfig, TrainChecks) {
  ExpectErrorWithData("train: {global_batch: -3}\n", "train.global_batch: must be positive, got -3");
  ExpectErrorWithData("train: {microbatches: 5}\n",
                      "train.microbatches: 5 does not divide global_batch 32");
  ExpectErrorWithData("train: {microbatches: 64}\n", "train.microbatches: 64 exceeds global_batch 32");
  ExpectErrorWithData("train: {warmup_steps: 2000}\n",
                      "train.warmup_steps: 2000 must be less than steps 2000");
  ExpectErrorWithData("train: {warmup_steps: -1}\n", "train.warmup_steps: must be non-negative, got -1");
  ExpectErrorWithData("train: {lr: 0}\n", "train.lr: must be positive, got 0.0");
  ExpectErrorWithData("train: {min_lr: 0.01}\n", "train.min_lr: 0.01 exceeds lr 0.002");
  ExpectErrorWithData("train: {schedule: step}\n",
                      "train.schedule: must be one of cosine, constant, linear, got 'step'");
  ExpectErrorWithData("train: {beta2: 1}\n", "train.beta2: must be in [0, 1), got 1.0");
  ExpectErrorWithData("train: {threads: -1}\n", "train.threads: must be non-negative, got -1");
  ExpectErrorWithData("train: {log_every: 0}\n", "train.log_every: must be positive, got 0");
}

TEST(JobConfig, DataChecks) {
  ExpectError("data: {fashion_mnist: /nope}\n", "data.fashion_mnist: path does not exist: /nope");
  ExpectError("data: {fashion_mnist: tests/data/config/fortunes.txt}\n",
              "data.fashion_mnist: not a directory: tests/data/config/fortunes.txt");
  ExpectError("data: {fashion_mnist: tests/data/config, fortunes: /nope/fortunes}\n",
              "data.fortunes: path does not exist: /nope/fortunes");
  ExpectError("data: {fashion_mnist: tests/data/config, manifest: /nope.jsonl}\n",
              "data.manifest: path does not exist: /nope.jsonl");
  ExpectError("data: {fashion_mnist: tests/data/config, reorder: random}\n",
              "data.reorder: must be one of none, balanced, balanced+ordered, got 'random'");
  ExpectError("data: {fashion_mnist: tests/data/config, mix: {text: -0.1}}\n",
              "data.mix.text: must be non-negative, got -0.1");
  ExpectError("data: {fashion_mnist: tests/data/config,"
              " mix: {caption: 0, interleaved: 0, generation: 0, text: 0}}\n",
              "data.mix: weights must not all be zero");
  ExpectError(std::string("data: {fashion_mnist: tests/data/config, fortunes: tests/data/config/fortunes.txt,"
                          " max_images: 0}\n"),
              "data.max_images: must be positive, got 0");
}

TEST(JobConfig, FortunesOnlyNeededForText) {
  StatusOr<JobConfig> r = ParseJobConfig(
      "data: {fashion_mnist: tests/data/config, fortunes: /nope/fortunes,"
      " manifest: tests/data/config/manifest.jsonl, mix: {text: 0, interleaved: 0}}\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->data.manifest, "tests/data/config/manifest.jsonl");
}

TEST(JobConfig, ParallelAndCheckpointChecks) {
  ExpectErrorWithData("parallel: {llm: {tp: 0}}\n", "parallel.llm.tp: must be at least 1, got 0");
  ExpectErrorWithData("parallel: {encoder: {dp: -1}}\n", "parallel.encoder.dp: must be at least 1, got -1");
  ExpectErrorWithData("parallel: {llm: {tp: 3}}\n", "parallel.llm.tp: 3 does not divide model.llm.heads 4");
  ExpectErrorWithData("parallel: {generator: {pp: 3}}\n",
                      "parallel.generator.pp: 3 exceeds model.generator.layers 2");
  // Explicit pipeline splits: the LLM only, one entry per stage, summing to its layers.
  ExpectErrorWithData("parallel: {llm: {pp: 2, layers: [1, 2]}}\n",
                      "parallel.llm.layers: the stages' layers sum to 3, the model has 2");
  ExpectErrorWithData("parallel: {llm: {pp: 2, layers: [2]}}\n", "parallel.llm.layers: 1 entries for 2 pipeline stages");
  ExpectErrorWithData("parallel: {llm: {pp: 2, layers: [2, 0]}}\n",
                      "parallel.llm.layers[1]: 0 layers; every stage needs at least one");
  ExpectErrorWithData("parallel: {llm: {pp: 2, layers: [1, x]}}\n", "parallel.llm.layers[1]: expected an integer, got 'x'");
  ExpectErrorWithData("parallel: {llm: {pp: 2, layers: 2}}\n", "parallel.llm.layers: expected a list of integers, got '2'");
  ExpectErrorWithData("parallel: {encoder: {pp: 2, layers: [1, 1]}}\n",
                      "parallel.encoder.layers: only the llm is split into pipeline stages");
  ExpectErrorWithData("checkpoint: {keep: 0}\n", "checkpoint.keep: must be positive, got 0");
  ExpectErrorWithData("checkpoint: {dir: \"\"}\n", "checkpoint.dir: must not be empty");
  ExpectErrorWithData("name: my job\n",
                      "name: 'my job' may contain only letters, digits, '.', '_' and '-'");
}

TEST(JobConfig, ValidateAfterOverride) {
  JobConfig cfg = FixtureConfig();
  EXPECT_TRUE(ValidateJobConfig(cfg).ok());
  cfg.train.microbatches = 5;
  Status st = ValidateJobConfig(cfg);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "train.microbatches: 5 does not divide global_batch 32");
}

TEST(JobConfig, SyntaxErrorsNameLineAndColumn) {
  StatusOr<JobConfig> r = ParseJobConfig("name: x\ntrain: {steps: 10\n", "job.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("job.yaml:3:1: ", 0), 0u) << r.status().message();

  r = LoadJobConfig("tests/data/config/bad_syntax.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("tests/data/config/bad_syntax.yaml:3:", 0), 0u)
      << r.status().message();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
}

TEST(JobConfig, DocumentShape) {
  ExpectError("", "<string>: expected one YAML document, got 0");
  ExpectError("- a\n- b\n", "<string>: expected a mapping at the top level, got a sequence");
  ExpectError("name: a\n---\nname: b\n", "<string>: expected one YAML document, got 2");
}

TEST(JobConfig, MissingFile) {
  StatusOr<JobConfig> r = LoadJobConfig("tests/data/config/nope.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "tests/data/config/nope.yaml: cannot open");
}

}  // namespace
}  // namespace braid
