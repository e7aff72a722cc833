// LLM backbone: decoder-only transformer (RMSNorm, SwiGLU, causal attention,
// learned positions) over packed variable-length sequences. Image
// placeholder tokens take their input embedding from the encoder's projected
// output instead of the token table; the final hidden states at generation
// slots condition the generator.
#pragma once

#include <cstdint>
#include <vector>

#include "common/config/job_config.h"
#include "common/nn/transformer_block.h"
#include "common/tensor/param_buffer.h"
#include "common/tensor/tensor.h"

namespace braid::nn {

// One packed microbatch as the LLM sees it.
struct LlmBatch {
  std::vector<int32_t> tokens;      // (N)
  std::vector<int32_t> positions;   // (N) position inside its own sample
  std::vector<int32_t> targets;     // (N) next token or -1 (ignored)
  std::vector<int32_t> cu_seqlens;  // (num_seqs + 1)
  std::vector<int32_t> image_rows;  // packed row of the k-th image-placeholder token (takes image row k)
  std::vector<int32_t> gen_rows;    // packed row of the k-th generation-slot token
  int num_seqs() const { return static_cast<int>(cu_seqlens.size()) - 1; }
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
};

class Llm {
 public:
  explicit Llm(const LlmConfig& cfg);
  void Init(uint64_t seed);
  ParamBuffer& params() { return pb_; }
  const ParamBuffer& params() const { return pb_; }
  int64_t width() const { return C_; }
  const LlmConfig& config() const { return cfg_; }

  // image_emb: (image_rows.size(), C). Returns the summed text cross-entropy
  // over supervised tokens and writes their count. gen_hidden receives the
  // final (normed) hidden states at gen_rows: (gen_rows.size(), C).
  double Forward(const LlmBatch& batch, const float* image_emb, Tensor* gen_hidden, int64_t* text_count);
  // text_scale: 1 / (global supervised token count). dgen_hidden: gradient of
  // the generator loss w.r.t. gen_hidden (may be null). dimage_emb receives
  // (image_rows.size(), C) gradients (overwritten).
  void Backward(float text_scale, const float* dgen_hidden, Tensor* dimage_emb);

  // Inference helpers (no targets needed): logits for every packed row.
  const Tensor& logits() const { return logits_; }
  const Tensor& final_hidden() const { return hf_; }
  // Per-layer qkv of the last Forward (for the decoding KV cache).
  const Tensor& layer_qkv(int l) const { return caches_[size_t(l)].qkv; }
  const TransformerBlock& block(int l) const { return blocks_[size_t(l)]; }
  int tok_emb_index() const { return tok_; }
  int pos_emb_index() const { return pos_; }
  int norm_f_index() const { return normf_; }
  int lm_head_index() const { return head_; }

 private:
  LlmConfig cfg_;
  int64_t C_, V_;
  ParamBuffer pb_;
  int tok_, pos_, normf_, head_;
  std::vector<TransformerBlock> blocks_;

  const LlmBatch* batch_ = nullptr;
  std::vector<int32_t> embed_ids_;  // token ids with image rows mapped to 0 (their table grad is skipped)
  std::vector<Tensor> xs_;
  std::vector<BlockCache> caches_;
  Tensor hf_, hf_rstd_, logits_;
};

}  // namespace braid::nn
