// The routing plan of one training step (DESIGN.md §2): which DP rank of each
// module owns each unit of work, per microbatch, plus the global counts used
// for loss normalisation. Plain structs, no I/O. Policies (in-order,
// balancing) produce a StepPlan; the data service streams each worker its
// share from it and the boundary communicators route tensors by it.
#pragma once

#include <cstdint>
#include <vector>

namespace braid::reorder {

// What the planner needs to know about a sample (cheap metadata, no pixels).
struct SampleMeta {
  int64_t id = 0;               // stable dataset id
  int32_t num_images = 0;       // encoder inputs
  int32_t num_gen_targets = 0;  // generator targets
  int64_t tokens = 0;           // sequence length on the LLM (text + image slots)
  int64_t text_targets = 0;     // supervised text tokens
};

// Data-parallel size of each module; independent of each other (any ratio).
struct Layout {
  int encoder_dp = 1, llm_dp = 1, generator_dp = 1;
};

// Units of work. An image is (sample id, index of the image inside the
// sample); a generation target likewise. llm_rank is always the owner of the
// unit's sample. uid is unique within the microbatch: dense
// 0..n-1 (n = units of that kind in the microbatch), in microbatch order for
// the in-order policy. It names the unit on the wire.
struct ImageUnit {
  int64_t sample_id = 0;
  int32_t index = 0;
  int32_t encoder_rank = 0;
  int32_t llm_rank = 0;
  uint32_t uid = 0;
};

struct GenUnit {
  int64_t sample_id = 0;
  int32_t index = 0;
  int32_t generator_rank = 0;
  int32_t llm_rank = 0;
  uint32_t uid = 0;
};

struct SampleUnit {
  int64_t sample_id = 0;
  int32_t llm_rank = 0;
};

struct MicrobatchPlan {
  std::vector<SampleUnit> samples;  // microbatch order
  std::vector<ImageUnit> images;    // microbatch order
  std::vector<GenUnit> gen;         // microbatch order
};

struct StepPlan {
  int64_t step = 0;
  std::vector<MicrobatchPlan> microbatches;
  // Loss denominators for the whole step (never per rank, DESIGN.md §2).
  int64_t global_text_targets = 0;
  int64_t global_gen_targets = 0;
  int64_t global_samples = 0;
  // How the policy did (PlanStep fills them; 0 = not measured): time to
  // plan, and per module (encoder, LLM, generator) the max over mean rank
  // load, averaged over microbatches.
  double solve_ms = 0;
  double imbalance[3] = {0, 0, 0};
};

// Views of one rank: the units it owns in a microbatch, in canonical order
// (the order in the microbatch). Pointers into `mb`: valid while it lives.
namespace internal {
template <typename Unit, typename RankOf>
std::vector<const Unit*> Select(const std::vector<Unit>& units, int rank, RankOf rank_of) {
  std::vector<const Unit*> out;
  for (const Unit& u : units) {
    if (rank_of(u) == rank) out.push_back(&u);
  }
  return out;
}
}  // namespace internal

inline std::vector<const ImageUnit*> ImagesOfEncoderRank(const MicrobatchPlan& mb, int rank) {
  return internal::Select(mb.images, rank, [](const ImageUnit& u) { return u.encoder_rank; });
}
inline std::vector<const SampleUnit*> SamplesOfLlmRank(const MicrobatchPlan& mb, int rank) {
  return internal::Select(mb.samples, rank, [](const SampleUnit& u) { return u.llm_rank; });
}
// Images whose sample the LLM rank owns (what it receives from the encoders).
inline std::vector<const ImageUnit*> ImagesOfLlmRank(const MicrobatchPlan& mb, int rank) {
  return internal::Select(mb.images, rank, [](const ImageUnit& u) { return u.llm_rank; });
}
inline std::vector<const GenUnit*> GenOfGeneratorRank(const MicrobatchPlan& mb, int rank) {
  return internal::Select(mb.gen, rank, [](const GenUnit& u) { return u.generator_rank; });
}
// Generation targets whose sample the LLM rank owns (what it sends on).
inline std::vector<const GenUnit*> GenOfLlmRank(const MicrobatchPlan& mb, int rank) {
  return internal::Select(mb.gen, rank, [](const GenUnit& u) { return u.llm_rank; });
}

}  // namespace braid::reorder
