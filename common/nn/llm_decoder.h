// Greedy decoding for many prompts at once with a per-layer KV cache: the
// prompts run through the normal packed forward once, then every new token
// costs one DecodeStep per layer.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/nn/llm.h"

namespace braid::nn {

// prompts: packed prompts (targets may be empty); image_emb as in Llm::Forward.
// Generates up to max_new tokens per prompt; a sequence stops after emitting
// a token for which stop(token) is true (that token is included).
std::vector<std::vector<int32_t>> GreedyDecode(Llm& llm, const LlmBatch& prompts, const float* image_emb,
                                               int max_new, const std::function<bool(int32_t)>& stop);

}  // namespace braid::nn
