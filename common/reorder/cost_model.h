// What a unit of work costs on each module (DESIGN.md §2, docs/REORDER.md):
// an encoder image from its tokens (linear + attention term), an LLM sample
// from its packed tokens (linear + quadratic attention term), a generator
// target as a constant. Units are FLOPs by default (FlopCostModel) or
// seconds from a profile.
#pragma once

#include <cstdint>

#include "common/reorder/workload.h"

namespace braid::reorder {

struct CostModel {
  // Forward cost: encoder image a*P + b*P^2 (P = its tokens); LLM sample
  // a*T + b*T^2 (T = its packed tokens); generator target c.
  double enc_linear = 0, enc_attn = 0;
  double llm_linear = 0, llm_attn = 0;
  double gen_target = 0;
  double backward_ratio = 2.0;  // backward = ratio x forward, every module

  double EncoderImage(int64_t tokens) const { return enc_linear * double(tokens) + enc_attn * double(tokens) * double(tokens); }
  double LlmSample(int64_t tokens) const { return llm_linear * double(tokens) + llm_attn * double(tokens) * double(tokens); }
  double GeneratorTarget() const { return gen_target; }
};

// Transformer widths and depths the FLOP model needs.
struct ModuleShape {
  int64_t width = 0, layers = 0, mlp_hidden = 0;  // mlp_hidden 0 = 4 x width
  bool gated_mlp = false;                          // SwiGLU: three MLP matrices, not two
};
struct ModelShapes {
  ModuleShape encoder, llm, generator;
  int64_t generator_tokens = 256;  // tokens the generator processes per target
};

// FLOP-based forward costs: per token and layer 2*(4C^2 + 2*C*H) for the
// projections and MLP (H = mlp_hidden; 3*C*H when gated), and per sequence of T tokens and layer
// 2*2*C*T^2 for attention scores and values (halved for the causal LLM).
CostModel FlopCostModel(const ModelShapes& m);

// A reference multimodal model for `braid reorder` without a job: a
// ViT-L/14 encoder (1024 wide, 24 layers), a 7B-class LLM (4096 wide, 32
// layers, MLP 11008) and a DiT-XL generator (1152 wide, 28 layers, 256
// tokens per image).
ModelShapes ReferenceModelShapes();

}  // namespace braid::reorder
