// One rank's share of one microbatch, as the data service streams it
// (docs/PROTOCOL.md, WorkerMicrobatch): plain structs, no gRPC types.
#pragma once

#include <cstdint>
#include <vector>

namespace braid::worker {

enum class Role { kEncoder = 0, kLlm = 1, kGenerator = 2 };
inline constexpr int kNumRoles = 3;
const char* RoleName(Role r);  // "encoder", "llm", "generator"

struct RankImage {  // an image for an encoder rank
  uint32_t uid = 0;
  int64_t sample_id = 0;
  int32_t index = 0;
  int32_t llm_rank = 0;  // where its embedding goes
  std::vector<float> pixels;
};

struct RankSample {  // a sample for an LLM rank
  int64_t sample_id = 0;
  std::vector<int32_t> tokens, targets;
  std::vector<uint32_t> image_uids;        // per image block, in order
  std::vector<int32_t> image_encoder_ranks;
  std::vector<uint32_t> gen_uids;          // per generation block, in order
  std::vector<int32_t> gen_generator_ranks;
};

struct RankGen {  // a generation target for a generator rank
  uint32_t uid = 0;
  int64_t sample_id = 0;
  int32_t index = 0;
  int32_t llm_rank = 0;  // where its conditioning comes from
  uint64_t key = 0;      // random key: timestep and noise
  std::vector<float> pixels;
};

struct RankMicrobatch {
  int64_t step = 0;
  int32_t microbatch = 0, microbatches = 1;
  int64_t global_text_targets = 0, global_gen_targets = 0, global_samples = 0;
  std::vector<RankImage> images;
  std::vector<RankSample> samples;
  std::vector<RankGen> gen;
  // LLM rank 0's microbatch 0 only (what it reports for the step):
  std::vector<int64_t> step_sample_ids;  // whole step, sampling order
  double plan_solve_ms = 0;               // the step plan's solve time and per-module
  std::vector<double> plan_imbalance;     // imbalance (encoder, LLM, generator)
};

}  // namespace braid::worker
