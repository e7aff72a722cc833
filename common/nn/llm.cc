#include "common/nn/llm.h"

#include <cmath>

#include "common/base/check.h"
#include "common/data/tokenizer.h"
#include "common/nn/init.h"
#include "common/ops/cpu/embedding.h"
#include "common/ops/cpu/loss.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/norm.h"
#include "common/ops/cpu/rows.h"

namespace braid::nn {

Llm::Llm(const LlmConfig& cfg, parallel::TpContext* tp, LlmStage stage)
    : cfg_(cfg),
      tp_(tp),
      C_(cfg.width),
      V_(cfg.vocab),
      first_layer_(stage.first_layer),
      end_layer_(stage.end_layer < 0 ? cfg.layers : stage.end_layer) {
  BRAID_CHECK(first_layer_ >= 0 && first_layer_ < end_layer_ && end_layer_ <= cfg.layers);
  const int T = tp ? tp->size() : 1, r = tp ? tp->rank() : 0;
  vocab_ = parallel::EvenPart(V_, T, r);
  const parallel::ShardSpec vocab_rows = parallel::SplitRows(T, r, 1, /*even=*/false);
  if (first_stage()) {
    tok_ = pb_.Add("tok_embed", {V_, C_}, true, vocab_rows);
    pos_ = pb_.Add("pos_embed", {int64_t(cfg.max_seq), C_}, false);
  }
  BlockConfig bc{C_, cfg.heads, cfg.mlp_hidden, true, true, true, T, r};
  blocks_.resize(size_t(end_layer_ - first_layer_));
  for (int l = first_layer_; l < end_layer_; ++l)
    blocks_[size_t(l - first_layer_)].Declare(pb_, "blocks." + std::to_string(l) + ".", bc, tp);
  if (last_stage()) {
    normf_ = pb_.Add("norm_f.weight", {C_}, false);
    head_ = pb_.Add("lm_head.weight", {V_, C_}, true, vocab_rows);
  }
  pb_.Allocate();
}

void Llm::Init(uint64_t seed) {
  if (tok_ >= 0) InitNormal(pb_, tok_, seed, 0.02f);
  if (pos_ >= 0) InitNormal(pb_, pos_, seed, 0.01f);
  for (auto& b : blocks_) b.Init(pb_, seed, cfg_.layers);
  if (normf_ >= 0) InitConstant(pb_, normf_, 1.0f);
  if (head_ >= 0) InitNormal(pb_, head_, seed, 0.02f);
}

void LlmBatch::Append(const std::vector<int32_t>& t, const std::vector<int32_t>* tg) {
  if (cu_seqlens.empty()) cu_seqlens.push_back(0);
  const int32_t base = int32_t(tokens.size());
  for (size_t i = 0; i < t.size(); ++i) {
    tokens.push_back(t[i]);
    positions.push_back(int32_t(i));
    if (t[i] == tok::kImg) image_rows.push_back(base + int32_t(i));
    if (t[i] == tok::kGen) gen_rows.push_back(base + int32_t(i));
  }
  if (tg) targets.insert(targets.end(), tg->begin(), tg->end());
  cu_seqlens.push_back(int32_t(tokens.size()));
}

void LlmBatchIndices::Upload(const LlmBatch& b) {
  std::vector<int32_t> ids = b.tokens;
  for (int32_t r : b.image_rows) ids[size_t(r)] = 0;
  embed_ids_host_ = std::move(ids);
  embed_ids = StagedForOps(embed_ids_host_, &stage_[0]);
  positions = StagedForOps(b.positions, &stage_[1]);
  targets = StagedForOps(b.targets, &stage_[2]);
  cu_seqlens = StagedForOps(b.cu_seqlens, &stage_[3]);
  image_rows = StagedForOps(b.image_rows, &stage_[4]);
  gen_rows = StagedForOps(b.gen_rows, &stage_[5]);
}

void Llm::Forward(const LlmBatch& b, const float* image_emb, Tensor* gen_hidden, double* loss_sum,
                  int64_t* text_count, Activations* acts) {
  BRAID_CHECK(first_stage() && last_stage());
  ForwardStage(b, image_emb, nullptr, nullptr, gen_hidden, loss_sum, text_count, acts);
}

void Llm::Backward(float text_scale, const float* dgen_hidden, Tensor* dimage_emb, Activations* acts) {
  BRAID_CHECK(first_stage() && last_stage());
  BackwardStage(text_scale, dgen_hidden, nullptr, nullptr, dimage_emb, acts);
}

void Llm::ForwardStage(const LlmBatch& b, const float* image_emb, const float* hidden_in, Tensor* hidden_out,
                       Tensor* gen_hidden, double* loss_sum, int64_t* text_count, Activations* acts) {
  Use(acts);
  act_->batch_ = &b;
  act_->idx_.Upload(b);
  const LlmBatchIndices& ix = act_->idx_;
  const int64_t N = b.size();
  const int S = b.num_seqs(), max_seqlen = b.max_seqlen();
  const bool tp = vocab_.size() != V_;
  act_->xs_[0].Resize({N, C_});
  if (first_stage()) {
    if (tp)
      VocabParallelEmbeddingForward(act_->xs_[0].data(), ix.embed_ids, pb_.param(tok_), vocab_, N, C_,
                                    tp_);
    else
      ops::embedding_forward(act_->xs_[0].data(), ix.embed_ids, pb_.param(tok_), N, C_);
    ops::scatter_rows(act_->xs_[0].data(), image_emb, ix.image_rows, int64_t(b.image_rows.size()), C_);
    ops::add_positions_forward(act_->xs_[0].data(), ix.positions, pb_.param(pos_), N, C_);
  } else {
    ops::copy(act_->xs_[0].data(), hidden_in, N * C_);
  }
  for (size_t l = 0; l < blocks_.size(); ++l) {
    act_->xs_[l + 1].Resize({N, C_});
    blocks_[l].Forward(act_->caches_[l], pb_, act_->xs_[l + 1].data(), act_->xs_[l].data(), N, ix.cu_seqlens, S,
                       max_seqlen);
  }
  if (text_count) *text_count = 0;
  if (!last_stage()) {
    *hidden_out = act_->xs_.back();
    return;
  }
  act_->hf_.Resize({N, C_});
  act_->hf_rstd_.Resize({N});
  ops::rmsnorm_forward(act_->hf_.data(), act_->hf_rstd_.data(), act_->xs_.back().data(), pb_.param(normf_), N, C_);
  const int64_t Vl = vocab_.size();
  act_->logits_.Resize({N, Vl});
  ops::matmul_forward<float>(act_->logits_.data(), act_->hf_.data(), pb_.param(head_), nullptr, N, C_, Vl);
  if (text_count) *text_count = b.supervised();  // host: the batch's own targets
  if (tp && !b.targets.empty()) {
    // Every TP rank runs it (collectives; its cache serves the backward).
    VocabParallelCrossEntropyForward(act_->logits_.data(), ix.targets, vocab_, N, tp_, loss_sum, &act_->ce_);
  } else if (loss_sum != nullptr && !b.targets.empty()) {
    ops::cross_entropy_forward<float>(nullptr, loss_sum, act_->logits_.data(), ix.targets, N, V_);
  }
  if (gen_hidden) {
    gen_hidden->Resize({int64_t(b.gen_rows.size()), C_});
    ops::gather_rows(gen_hidden->data(), act_->hf_.data(), ix.gen_rows, int64_t(b.gen_rows.size()), C_);
  }
}

void Llm::BackwardStage(float text_scale, const float* dgen_hidden, const float* dhidden_out, Tensor* dhidden_in,
                        Tensor* dimage_emb, Activations* acts) {
  Use(acts);
  BRAID_CHECK(act_->batch_ != nullptr);
  const LlmBatch& b = *act_->batch_;
  const LlmBatchIndices& ix = act_->idx_;
  const int64_t N = b.size();
  const int S = b.num_seqs(), max_seqlen = b.max_seqlen();
  const int64_t Vl = vocab_.size();
  const bool tp = Vl != V_;
  Tensor dx({N, C_});
  if (last_stage()) {
    Tensor dlogits({N, Vl}), dhf({N, C_});
    if (tp)
      VocabParallelCrossEntropyBackward(dlogits.data(), act_->logits_.data(), ix.targets, vocab_, N, act_->ce_,
                                        text_scale);
    else
      ops::cross_entropy_backward<float>(dlogits.data(), act_->logits_.data(), ix.targets, N, V_, text_scale);
    ops::matmul_backward<float>(dhf.data(), pb_.grad(head_), nullptr, dlogits.data(), act_->hf_.data(),
                                pb_.param(head_), N, C_, Vl);
    if (tp) tp_->AllReduceSum(dhf.data(), N * C_);  // the head is column-parallel: partial input gradients
    if (dgen_hidden)
      ops::scatter_add_rows(dhf.data(), dgen_hidden, ix.gen_rows, int64_t(b.gen_rows.size()), C_);
    ops::rmsnorm_backward(dx.data(), pb_.grad(normf_), dhf.data(), act_->xs_.back().data(), pb_.param(normf_),
                          act_->hf_rstd_.data(), N, C_);
  } else {
    ops::copy(dx.data(), dhidden_out, N * C_);
  }
  for (size_t l = blocks_.size(); l-- > 0;) {
    Tensor dprev({N, C_});
    blocks_[l].Backward(act_->caches_[l], pb_, dprev.data(), dx.data(), act_->xs_[l].data(), N, ix.cu_seqlens, S,
                        max_seqlen);
    dx = std::move(dprev);
  }
  if (!first_stage()) {
    *dhidden_in = std::move(dx);
    return;
  }
  ops::add_positions_backward(pb_.grad(pos_), dx.data(), ix.positions, N, C_);
  // Image rows: their gradient goes to the encoder, not the token table.
  const int64_t n_img = int64_t(b.image_rows.size());
  dimage_emb->Resize({n_img, C_});
  ops::gather_rows(dimage_emb->data(), dx.data(), ix.image_rows, n_img, C_);
  ops::zero_rows(dx.data(), ix.image_rows, n_img, C_);
  if (tp)
    VocabParallelEmbeddingBackward(pb_.grad(tok_), dx.data(), ix.embed_ids, vocab_, N, C_);
  else
    ops::embedding_backward(pb_.grad(tok_), dx.data(), ix.embed_ids, N, C_);
}

}  // namespace braid::nn
