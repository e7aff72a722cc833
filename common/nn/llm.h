// LLM backbone: decoder-only transformer (RMSNorm, SwiGLU, causal attention,
// learned positions) over packed variable-length sequences. Image
// placeholder tokens take their input embedding from the encoder's projected
// output instead of the token table; the final hidden states at generation
// slots condition the generator.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/config/job_config.h"
#include "common/nn/transformer_block.h"
#include "common/nn/vocab_parallel.h"
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
  int max_seqlen() const {
    int m = 0;
    for (size_t s = 1; s < cu_seqlens.size(); ++s) m = std::max(m, cu_seqlens[s] - cu_seqlens[s - 1]);
    return m;
  }
  // Appends one sample: its tokens (positions restart at 0), its targets
  // (null: none, for inference), and the rows of its image placeholders and
  // generation slots.
  void Append(const std::vector<int32_t>& sample_tokens, const std::vector<int32_t>* sample_targets);
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  // Rows with a target (>= 0): the supervised tokens the loss counts.
  int64_t supervised() const {
    int64_t n = 0;
    for (int32_t t : targets) n += t >= 0;
    return n;
  }
};

// Everything a Forward saves for its Backward. Several can be alive at once
// (one per microbatch in flight in a pipelined schedule).
// The batch's index arrays where the ops can read them: the batch's own
// vectors on the host (no copy), copies in the device memory of the rank's
// backend when it has one (docs/GPU.md step 3). The batch must outlive them.
struct LlmBatchIndices {
  const int32_t* embed_ids = nullptr;  // token ids with image rows mapped to 0 (their table grad is skipped)
  const int32_t *positions = nullptr, *targets = nullptr, *cu_seqlens = nullptr, *image_rows = nullptr,
                *gen_rows = nullptr;
  void Upload(const LlmBatch& b);

  LlmBatchIndices() = default;
  // The pointers may point into this object's own buffers: no copies
  // (moves keep the buffers, and so the pointers, valid).
  LlmBatchIndices(const LlmBatchIndices&) = delete;
  LlmBatchIndices& operator=(const LlmBatchIndices&) = delete;
  LlmBatchIndices(LlmBatchIndices&&) noexcept = default;
  LlmBatchIndices& operator=(LlmBatchIndices&&) noexcept = default;

 private:
  std::vector<int32_t> embed_ids_host_;
  TensorT<int32_t> stage_[6];
};

struct LlmActivations {
  const LlmBatch* batch_ = nullptr;
  LlmBatchIndices idx_;
  std::vector<Tensor> xs_;
  std::vector<BlockCache> caches_;
  Tensor hf_, hf_rstd_, logits_;  // logits_: this rank's vocabulary columns under TP
  VocabParallelCeCache ce_;       // TP only
};

// A pipeline stage's share of the LLM: layers [first_layer, end_layer)
// (end_layer -1 = the last layer). The first stage also holds the token and
// position embeddings, the last the final norm and the LM head. Parameter
// names keep the global layer index ("blocks.3."), so checkpoints and
// initial weights match the whole model's.
struct LlmStage {
  int first_layer = 0, end_layer = -1;
};

class Llm {
 public:
  using Activations = LlmActivations;

 private:
 public:
  // tp: this rank's TP group (null or size 1: the whole model). Under TP the
  // blocks are sliced (TransformerBlock), the token table and LM head hold
  // this rank's vocabulary rows (vocab_parallel.h), the rest is replicated;
  // Forward's loss and gen_hidden and Backward's dimage_emb are whole and
  // identical on every rank. `tp` must outlive the Llm.
  explicit Llm(const LlmConfig& cfg, parallel::TpContext* tp = nullptr, LlmStage stage = {});
  void Init(uint64_t seed);
  ParamBuffer& params() { return pb_; }
  const ParamBuffer& params() const { return pb_; }
  int64_t width() const { return C_; }
  const LlmConfig& config() const { return cfg_; }

  // image_emb: (image_rows.size(), C). Adds the summed text cross-entropy
  // over supervised tokens to *loss_sum (a double in the thread's memory:
  // device memory on a device, read back with the step's report; null: no
  // loss) and writes their count (host, may be null). gen_hidden receives
  // the final (normed) hidden states at gen_rows: (gen_rows.size(), C).
  // `acts` (optional) keeps this microbatch's activations for its Backward;
  // `batch` must outlive the Backward.
  void Forward(const LlmBatch& batch, const float* image_emb, Tensor* gen_hidden, double* loss_sum,
               int64_t* text_count, Activations* acts = nullptr);
  // text_scale: 1 / (global supervised token count). dgen_hidden: gradient of
  // the generator loss w.r.t. gen_hidden (may be null). dimage_emb receives
  // (image_rows.size(), C) gradients (overwritten).
  void Backward(float text_scale, const float* dgen_hidden, Tensor* dimage_emb, Activations* acts = nullptr);

  // A pipeline stage's forward and backward (Forward/Backward above are the
  // whole model's). The first stage embeds `batch` (with image_emb); the
  // others start from hidden_in (N, C), the previous stage's hidden_out. The
  // last stage adds the loss and fills gen_hidden; the others fill
  // hidden_out (no loss). Backward: the last stage starts from the loss
  // (and dgen_hidden), the others from dhidden_out (N, C), the gradient of
  // their hidden_out; the first stage fills dimage_emb, the others
  // dhidden_in, the gradient of their hidden_in (for the previous stage).
  void ForwardStage(const LlmBatch& batch, const float* image_emb, const float* hidden_in, Tensor* hidden_out,
                    Tensor* gen_hidden, double* loss_sum, int64_t* text_count, Activations* acts = nullptr);
  void BackwardStage(float text_scale, const float* dgen_hidden, const float* dhidden_out, Tensor* dhidden_in,
                     Tensor* dimage_emb, Activations* acts = nullptr);
  bool first_stage() const { return first_layer_ == 0; }
  bool last_stage() const { return end_layer_ == cfg_.layers; }

  // Inference helpers (no targets needed): logits for every packed row.
  const Tensor& logits() const { return act_->logits_; }
  const Tensor& final_hidden() const { return act_->hf_; }
  // Per-layer qkv of the last Forward (for the decoding KV cache).
  const Tensor& layer_qkv(int l) const { return act_->caches_[size_t(l)].qkv.f32(); }
  // Bytes the blocks keep from the last Forward for the backward (half of
  // the GEMM/attention activations' under bf16 storage: block_activations.h).
  size_t saved_block_bytes() const {
    size_t n = 0;
    for (const BlockCache& c : act_->caches_) n += c.bytes();
    return n;
  }
  const TransformerBlock& block(int l) const { return blocks_[size_t(l)]; }
  int tok_emb_index() const { return tok_; }
  int pos_emb_index() const { return pos_; }
  int norm_f_index() const { return normf_; }
  int lm_head_index() const { return head_; }

 private:
  LlmConfig cfg_;
  parallel::TpContext* tp_;
  int64_t C_, V_;
  parallel::Range vocab_;  // this rank's vocabulary rows
  int first_layer_, end_layer_;
  ParamBuffer pb_;
  int tok_ = -1, pos_ = -1, normf_ = -1, head_ = -1;  // -1: on another pipeline stage
  std::vector<TransformerBlock> blocks_;

  // Activations of the current microbatch (own_ unless the caller passed one).
  Activations own_;
  Activations* act_ = &own_;
  void Use(Activations* acts) {
    act_ = acts ? acts : &own_;
    if (act_->xs_.size() != blocks_.size() + 1) act_->xs_.resize(blocks_.size() + 1);
    if (act_->caches_.size() != blocks_.size()) act_->caches_.resize(blocks_.size());
  }
};

}  // namespace braid::nn
