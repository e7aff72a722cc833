// Model FLOPs of one training step (forward + backward) of the demo
// multimodal model, for model FLOP utilisation (MFU). Pure arithmetic over
// the model config and the step's token / sequence counts.
//
// Per module:
//   matmul FLOPs    = 6 * P_mm * T
//     P_mm: parameters that sit in matmuls (every linear weight of the blocks
//     and the module's own in/out projections; embeddings, norms and biases
//     are not counted), T: the module's tokens in the step. 6 = 2 (multiply-
//     add) * 3 (forward, input grad, weight grad).
//   attention FLOPs = 12 * layers * width * sum_seq(L^2) * (causal ? 1/2 : 1)
//     forward is QK^T and PV, 2 * 2 * L^2 * width per layer; backward counts
//     twice the forward (the recompute of P from the saved LSE is not counted).
// Tokens and sequences:
//   encoder   T = images * P_enc, one sequence of P_enc (= 16) per image
//   LLM       T = packed tokens, sequences from cu_seqlens
//   generator T = targets * (gen_slots + 1 + P_gen), one sequence per target
// Simplification: every module-level projection is charged on all of its
// module's tokens (e.g. the generator's patch_in on its conditioning tokens
// too); this over-counts the step by a few per cent at most.
#pragma once

#include <cstdint>
#include <vector>

#include "common/config/job_config.h"

namespace braid::bench {

// Matmul weights of one pre-norm transformer block (qkv, proj, fc, out).
inline int64_t BlockMatmulParams(int64_t width, int64_t hidden, bool swiglu) {
  const int64_t fc_out = swiglu ? 2 * hidden : hidden;
  return 3 * width * width + width * width + fc_out * width + width * hidden;
}

inline int64_t EncoderMatmulParams(const EncoderConfig& e, int64_t llm_width) {
  const int64_t C = e.width, pdim = int64_t(e.patch) * e.patch * e.channels;
  return e.layers * BlockMatmulParams(C, int64_t(e.mlp_ratio) * C, false) + C * pdim + llm_width * C;
}

inline int64_t LlmMatmulParams(const LlmConfig& l) {
  return l.layers * BlockMatmulParams(l.width, l.mlp_hidden, true) + int64_t(l.vocab) * l.width;  // + lm_head
}

inline int64_t GeneratorMatmulParams(const GeneratorConfig& g, int64_t llm_width) {
  const int64_t C = g.width, pdim = int64_t(g.patch) * g.patch;
  // blocks + cond_proj + t_embed (2 linears) + patch_in + patch_out
  return g.layers * BlockMatmulParams(C, int64_t(g.mlp_ratio) * C, false) + C * llm_width + 2 * C * C + 2 * C * pdim;
}

inline int64_t PatchesPerImage(int image_size, int patch) {
  const int64_t g = image_size / patch;
  return g * g;
}

// Tokens, sequences and matmul parameters of one module in one step.
struct ModuleWork {
  int64_t matmul_params = 0;
  int64_t tokens = 0;
  int64_t layers = 0;
  int64_t width = 0;
  double sum_len_sq = 0;  // sum over sequences of L^2
  bool causal = false;
};

inline double ModuleFlops(const ModuleWork& m) {
  const double matmul = 6.0 * double(m.matmul_params) * double(m.tokens);
  const double attention = 12.0 * double(m.layers) * double(m.width) * m.sum_len_sq * (m.causal ? 0.5 : 1.0);
  return matmul + attention;
}

struct StepFlops {
  double encoder = 0, llm = 0, generator = 0;
  int64_t encoder_tokens = 0, llm_tokens = 0, generator_tokens = 0;
  double total() const { return encoder + llm + generator; }
};

// llm_seq_lens: length of every packed LLM sequence of the step (all
// microbatches); images: encoder images; targets: generation targets.
inline StepFlops ModelStepFlops(const ModelConfig& cfg, const std::vector<int64_t>& llm_seq_lens, int64_t images,
                                int64_t targets) {
  StepFlops f;
  const int64_t p_enc = PatchesPerImage(cfg.encoder.image_size, cfg.encoder.patch);
  ModuleWork enc{EncoderMatmulParams(cfg.encoder, cfg.llm.width), images * p_enc, cfg.encoder.layers,
                 cfg.encoder.width, double(images) * double(p_enc * p_enc), false};

  ModuleWork llm{LlmMatmulParams(cfg.llm), 0, cfg.llm.layers, cfg.llm.width, 0.0, true};
  for (int64_t len : llm_seq_lens) {
    llm.tokens += len;
    llm.sum_len_sq += double(len) * double(len);
  }

  const int64_t gen_len = cfg.generator.gen_slots + 1 + PatchesPerImage(cfg.generator.image_size, cfg.generator.patch);
  ModuleWork gen{GeneratorMatmulParams(cfg.generator, cfg.llm.width), targets * gen_len, cfg.generator.layers,
                 cfg.generator.width, double(targets) * double(gen_len * gen_len), false};

  f.encoder = ModuleFlops(enc);
  f.llm = ModuleFlops(llm);
  f.generator = ModuleFlops(gen);
  f.encoder_tokens = enc.tokens;
  f.llm_tokens = llm.tokens;
  f.generator_tokens = gen.tokens;
  return f;
}

}  // namespace braid::bench
