// Pre-norm transformer block over packed variable-length sequences:
//   r = x + Wo·attn(norm1(x));  out = r + W2·act(W1·norm2(r))
// LLM flavour: RMSNorm, SwiGLU, causal. ViT/DiT flavour: LayerNorm, GELU,
// bidirectional. Parameters live in the module's ParamBuffer under `prefix`.
//
// With cfg.tp > 1 the block is one rank's slice (docs/PARALLELISM.md): qkv
// and the MLP's first linear are column-parallel (this rank's heads and
// hidden units), the attention and MLP output projections row-parallel, and
// their partial outputs are summed over the TP group (two all-reduces
// forward, two backward, through the TpContext). Norms and the row-parallel
// biases are replicated; their gradients come out identical on every rank.
#pragma once

#include <cstdint>
#include <string>

#include "common/nn/block_activations.h"
#include "common/parallel/tp_comm.h"
#include "common/tensor/param_buffer.h"
#include "common/tensor/tensor.h"

namespace braid::nn {

struct BlockConfig {
  int64_t width = 0;   // C
  int64_t heads = 0;   // NH (divides C)
  int64_t hidden = 0;  // MLP hidden size
  bool rmsnorm = false;
  bool swiglu = false;
  bool causal = false;
  // Tensor parallelism (Megatron): this rank holds heads and MLP hidden units
  // [tp_rank/tp, (tp_rank+1)/tp); tp divides heads and hidden.
  int tp = 1, tp_rank = 0;
};

// Activations saved by Forward for Backward; reused across calls. The
// GEMM/attention/MLP activations (ActBuffer) are bf16 when the backend
// stores activations in bf16 (block_activations.h); the residual stream and
// the statistics are float.
struct BlockCache {
  ActBuffer ln1, qkv, att, ln2, fc, act;
  Tensor ln1_mean, ln1_rstd, att_lse, res1, ln2_mean, ln2_rstd;
  // Bytes of activation storage held (what a microbatch in flight costs).
  size_t bytes() const;
};

// Backward scratch (gradients of the intermediates): one per block, reused
// by every microbatch's backward (one backward runs at a time per block).
struct BlockScratch {
  Tensor dres1, dact, dfc, dln2, datt, dqkv, dln1;
};

class TransformerBlock {
 public:
  // tp: the TP group's collective (required when cfg.tp > 1; must outlive the block).
  void Declare(ParamBuffer& pb, const std::string& prefix, const BlockConfig& cfg,
               parallel::TpContext* tp = nullptr);
  // Weights N(0, 0.02); output projections scaled by 1/sqrt(2*num_layers) (GPT-2).
  void Init(ParamBuffer& pb, uint64_t seed, int num_layers) const;

  // out (N,C) from inp (N,C); sequences given by cu_seqlens (num_seqs+1), the
  // longest max_seqlen rows.
  void Forward(BlockCache& cache, const ParamBuffer& pb, float* out, const float* inp, int64_t N,
               const int32_t* cu_seqlens, int num_seqs, int max_seqlen) const;
  // Accumulates parameter grads into pb.grads() and dinp += d(out)/d(inp)^T dout.
  void Backward(BlockCache& cache, ParamBuffer& pb, float* dinp, const float* dout, const float* inp, int64_t N,
                const int32_t* cu_seqlens, int num_seqs, int max_seqlen) const;

  // Inference: one new token per sequence with a KV cache (causal decoding).
  // x (B,C) is updated in place. kcache/vcache: (B, cap, C); sequence b has
  // len[b] cached rows and its new key/value are written at row len[b].
  void DecodeStep(const ParamBuffer& pb, float* x, int64_t B, float* kcache, float* vcache, int64_t cap,
                  const int32_t* len) const;

  const BlockConfig& config() const { return cfg_; }

 private:
  void RowParallel(float* out, const ActBuffer& inp, const ParamBuffer& pb, int w, int b, int64_t N,
                   int64_t in_local) const;
  BlockConfig cfg_;
  parallel::TpContext* tp_ = nullptr;
  mutable BlockScratch scratch_;  // Backward's; not shared between threads
  int ln1_w_ = -1, ln1_b_ = -1, qkv_w_ = -1, qkv_b_ = -1, proj_w_ = -1, proj_b_ = -1;
  int ln2_w_ = -1, ln2_b_ = -1, fc_w_ = -1, fc_b_ = -1, out_w_ = -1, out_b_ = -1;
  int bucket_ = -1;  // this block's parameters, one gradient bucket
};

}  // namespace braid::nn
