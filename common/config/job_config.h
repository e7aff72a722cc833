// Job spec (DESIGN.md §4): the structs a job YAML resolves to, with the demo
// job's values as defaults. Parsing is strict (unknown keys, wrong types) and
// every error is one line "<field.path>: <problem>".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace braid {

struct EncoderConfig {
  int image_size = 28;
  int channels = 1;
  int patch = 7;
  int width = 64;
  int layers = 2;
  int heads = 4;
  int mlp_ratio = 4;
  bool operator==(const EncoderConfig&) const = default;
};

struct LlmConfig {
  int width = 128;
  int layers = 2;
  int heads = 4;
  int mlp_hidden = 256;  // SwiGLU hidden size
  int max_seq = 512;
  int vocab = 264;  // 256 bytes + special tokens; never smaller
  bool operator==(const LlmConfig&) const = default;
};

struct GeneratorConfig {
  int image_size = 28;  // must equal the encoder's
  int patch = 4;
  int width = 64;
  int layers = 2;
  int heads = 4;
  int mlp_ratio = 4;
  int gen_slots = 4;  // LLM hidden states that condition one generated image
  int diffusion_steps = 1000;
  int sample_steps = 50;
  int noise_samples = 4;  // (timestep, noise) draws per generation target per step
  bool operator==(const GeneratorConfig&) const = default;
};

struct ModelConfig {
  EncoderConfig encoder;
  LlmConfig llm;
  GeneratorConfig generator;
  bool operator==(const ModelConfig&) const = default;
};

// Relative weights of the task mixer (need not sum to 1).
struct MixSpec {
  double caption = 0.6, interleaved = 0.2, generation = 0.15, text = 0.05;
  bool operator==(const MixSpec&) const = default;
};

// Paths are used as written (relative ones resolve against the working dir).
struct DataConfig {
  std::string fashion_mnist = "/usr/share/datasets/fashion-mnist";
  std::string fortunes = "/usr/share/games/fortunes";
  std::string manifest;  // optional JSONL manifest; empty = none
  MixSpec mix;
  int max_images = 8;  // per sample
  int max_text_bytes = 128;
  int64_t epoch_samples = 60000;
  std::string reorder = "balanced+ordered";  // none | balanced | balanced+ordered (docs/REORDER.md)
  std::string reorder_profile;    // `braid profile` YAML; "" = FLOP costs of the model
  bool operator==(const DataConfig&) const = default;
};

struct TrainConfig {
  int steps = 2000;
  int global_batch = 32;
  int microbatches = 4;
  double lr = 2e-3;
  double min_lr = 2e-4;
  int warmup_steps = 100;
  std::string schedule = "cosine";  // cosine | constant | linear
  double weight_decay = 0.01;
  double beta1 = 0.9, beta2 = 0.95;
  double grad_clip = 1.0;  // max global grad norm; 0 disables clipping
  int threads = 0;         // 0 = all cores
  int log_every = 50;
  bool operator==(const TrainConfig&) const = default;
};

struct ModuleParallel {
  int dp = 1, tp = 1, pp = 1;
  // Layers per pipeline stage (the LLM only; `pp` entries summing to its
  // layers). Empty: split evenly, the extra layers on the first stages.
  std::vector<int> layers;
  bool operator==(const ModuleParallel&) const = default;
};

// YAML: `parallel: auto`, or a mapping of per-module layouts (plus an
// optional `auto_layout: true|false`, which is how the resolved spec says it).
struct ParallelConfig {
  bool auto_layout = false;
  ModuleParallel encoder, llm, generator;
  bool operator==(const ParallelConfig&) const = default;
};

struct CheckpointConfig {
  int every = 500;  // steps between checkpoints
  int keep = 3;     // newest checkpoints kept
  std::string dir = "runs";  // run dirs go under dir/<job-id>/
  // Start from this checkpoint: a step-N dir, or a run dir or checkpoints dir
  // (its newest good step-N). Any layout may load it (DP replicates state).
  // "" = start from scratch. Relative paths are under the runs root.
  std::string resume_from;
  bool operator==(const CheckpointConfig&) const = default;
};

// What the orchestrator does when a rank is lost (docs/RELIABILITY.md).
struct ReliabilityConfig {
  int max_restarts = 3;  // recoveries allowed before the job FAILS
  bool operator==(const ReliabilityConfig&) const = default;
};

struct JobConfig {
  std::string name = "job";
  uint64_t seed = 1234;
  // What every rank of every module computes on: "cpu" or "cuda" (one
  // device kind per job: the modules exchange activations and join one
  // job-wide communicator, docs/GPU.md step 6). The orchestrator assigns
  // the job only to workers registered with this device.
  std::string device = "cpu";
  // Compute precision on the device (docs/GPU.md step 5): "fp32", or "bf16"
  // (autocast: GEMMs and attention on bf16 tensor cores with fp32
  // accumulation, fp32 master weights, optimizer state and every other op).
  // bf16 needs device: cuda.
  std::string precision = "fp32";
  ModelConfig model;
  DataConfig data;
  TrainConfig train;
  ParallelConfig parallel;
  CheckpointConfig checkpoint;
  ReliabilityConfig reliability;
  bool operator==(const JobConfig&) const = default;
};

// Loads, applies defaults for absent keys, validates. Errors are
// InvalidArgument: "<field.path>: <problem>"; YAML syntax errors
// "<file>:<line>:<col>: <message>"; a missing file "<file>: cannot open".
StatusOr<JobConfig> LoadJobConfig(const std::string& path);
StatusOr<JobConfig> ParseJobConfig(const std::string& yaml_text,
                                   const std::string& source_name = "<string>");

// The semantic checks (ranges, divisibility, paths); also run after CLI
// overrides. Returns the first problem found.
Status ValidateJobConfig(const JobConfig& cfg);

// The resolved spec with every field under the same key names; parsing it
// back gives an equal config.
std::string JobConfigToYaml(const JobConfig& cfg);

}  // namespace braid
