// A microbatch packed for the three modules: the encoder's images, the LLM's
// packed sequences (no padding) with the rows where image embeddings and
// generation slots go, and the generator's targets with their random keys.
#pragma once

#include <cstdint>
#include <vector>

#include "common/data/sample.h"
#include "common/nn/llm.h"

namespace braid::train {

struct Microbatch {
  std::vector<int64_t> sample_ids;
  int64_t num_images = 0;
  std::vector<float> images;       // num_images * pixels, encoder input, sample order
  nn::LlmBatch llm;
  int64_t num_gen = 0;
  std::vector<float> gen_images;   // num_gen * pixels
  std::vector<uint64_t> gen_keys;  // GenerationKey(seed, step, sample id, k): timestep + noise
  int64_t text_count = 0;          // supervised text tokens
  int64_t tokens() const { return llm.size(); }
};

// Cuts a sample to at most max_seq tokens without splitting an image block or
// a generation block; drops the images / targets that no longer fit.
void TruncateSample(Sample* s, int max_seq, int patches_per_image, int gen_slots);

// Packs samples (already truncated) in order. pixels = image_size^2.
Microbatch PackMicrobatch(const std::vector<const Sample*>& samples, int64_t step, uint64_t seed, int64_t pixels,
                          int64_t gen_slots);

}  // namespace braid::train
