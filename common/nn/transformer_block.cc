#include "common/nn/transformer_block.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/base/check.h"
#include "common/nn/init.h"
#include "common/ops/cpu/activation.h"
#include "common/ops/cpu/attention.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/norm.h"
#include "common/ops/cpu/rows.h"

namespace braid::nn {

void TransformerBlock::Declare(ParamBuffer& pb, const std::string& p, const BlockConfig& cfg,
                               parallel::TpContext* tp) {
  BRAID_CHECK(cfg.width % cfg.heads == 0);
  BRAID_CHECK(cfg.tp >= 1 && cfg.tp_rank >= 0 && cfg.tp_rank < cfg.tp);
  BRAID_CHECK_MSG(cfg.heads % cfg.tp == 0 && cfg.hidden % cfg.tp == 0, "tp %d must divide heads %lld and hidden %lld",
                  cfg.tp, (long long)cfg.heads, (long long)cfg.hidden);
  BRAID_CHECK_MSG(cfg.tp == 1 || (tp && tp->size() == cfg.tp), "a block with tp %d needs its TP group", cfg.tp);
  cfg_ = cfg;
  tp_ = tp;
  const int64_t C = cfg.width, F = cfg.swiglu ? 2 * cfg.hidden : cfg.hidden;
  const int T = cfg.tp, r = cfg.tp_rank;
  using parallel::SplitCols;
  using parallel::SplitRows;
  ln1_w_ = pb.Add(p + "norm1.weight", {C}, false);
  if (!cfg.rmsnorm) ln1_b_ = pb.Add(p + "norm1.bias", {C}, false);
  qkv_w_ = pb.Add(p + "attn.qkv.weight", {3 * C, C}, true, SplitRows(T, r, 3));
  qkv_b_ = pb.Add(p + "attn.qkv.bias", {3 * C}, false, SplitRows(T, r, 3));
  proj_w_ = pb.Add(p + "attn.proj.weight", {C, C}, true, SplitCols(T, r));
  proj_b_ = pb.Add(p + "attn.proj.bias", {C}, false);
  ln2_w_ = pb.Add(p + "norm2.weight", {C}, false);
  if (!cfg.rmsnorm) ln2_b_ = pb.Add(p + "norm2.bias", {C}, false);
  fc_w_ = pb.Add(p + "mlp.fc.weight", {F, C}, true, SplitRows(T, r, cfg.swiglu ? 2 : 1));
  fc_b_ = pb.Add(p + "mlp.fc.bias", {F}, false, SplitRows(T, r, cfg.swiglu ? 2 : 1));
  out_w_ = pb.Add(p + "mlp.proj.weight", {C, cfg.hidden}, true, SplitCols(T, r));
  out_b_ = pb.Add(p + "mlp.proj.bias", {C}, false);
  bucket_ = pb.AddBucket(ln1_w_, out_b_);
}

void TransformerBlock::Init(ParamBuffer& pb, uint64_t seed, int num_layers) const {
  const float std = 0.02f, out_std = 0.02f / std::sqrt(2.0f * float(num_layers));
  InitConstant(pb, ln1_w_, 1.0f);
  InitConstant(pb, ln2_w_, 1.0f);
  InitNormal(pb, qkv_w_, seed, std);
  InitNormal(pb, proj_w_, seed, out_std);
  InitNormal(pb, fc_w_, seed, std);
  InitNormal(pb, out_w_, seed, out_std);
  // biases and LayerNorm biases stay zero (Allocate zero-fills)
}

// Row-parallel output: out = inp @ W^T summed over the TP group, then + bias
// (once, after the sum). With tp 1 the bias goes into the matmul as before.
void TransformerBlock::RowParallel(float* out, const ActBuffer& inp, const ParamBuffer& pb, int w, int b, int64_t N,
                                   int64_t in_local) const {
  const int64_t C = cfg_.width;
  if (cfg_.tp == 1) {
    act::LinearToFloat(out, inp, pb.param(w), pb.param(b), N, in_local, C);
    return;
  }
  act::LinearToFloat(out, inp, pb.param(w), nullptr, N, in_local, C);
  tp_->AllReduceSum(out, N * C);
  ops::add_bias(out, pb.param(b), N, C);
}

void TransformerBlock::Forward(BlockCache& c, const ParamBuffer& pb, float* out, const float* inp, int64_t N,
                               const int32_t* cu, int num_seqs, int max_seqlen) const {
  // Local sizes: this rank's heads, attention width and hidden units.
  const int64_t C = cfg_.width, T = cfg_.tp, H = cfg_.hidden / T, F = cfg_.swiglu ? 2 * H : H;
  const int64_t NH = cfg_.heads / T, HD = cfg_.width / cfg_.heads, A = NH * HD;
  c.ln1.Resize({N, C});
  c.ln1_mean.Resize({N});
  c.ln1_rstd.Resize({N});
  c.qkv.Resize({N, 3 * A});
  c.att.Resize({N, A});
  c.att_lse.Resize({N, NH});
  c.res1.Resize({N, C});
  c.ln2.Resize({N, C});
  c.ln2_mean.Resize({N});
  c.ln2_rstd.Resize({N});
  c.fc.Resize({N, F});
  c.act.Resize({N, H});

  const float* ln1_b = cfg_.rmsnorm ? nullptr : pb.param(ln1_b_);  // null: RMSNorm
  const float* ln2_b = cfg_.rmsnorm ? nullptr : pb.param(ln2_b_);
  act::NormForward(c.ln1, c.ln1_mean.data(), c.ln1_rstd.data(), inp, pb.param(ln1_w_), ln1_b, N, C);
  act::Linear(c.qkv, c.ln1, pb.param(qkv_w_), pb.param(qkv_b_), N, C, 3 * A);
  act::Attention(c.att, c.att_lse.data(), c.qkv, cu, num_seqs, max_seqlen, NH, HD, cfg_.causal);
  // res1 = inp + proj(att): compute proj into res1 then add inp.
  RowParallel(c.res1.data(), c.att, pb, proj_w_, proj_b_, N, A);
  ops::residual_forward(c.res1.data(), c.res1.data(), inp, N * C);

  act::NormForward(c.ln2, c.ln2_mean.data(), c.ln2_rstd.data(), c.res1.data(), pb.param(ln2_w_), ln2_b, N, C);
  act::Linear(c.fc, c.ln2, pb.param(fc_w_), pb.param(fc_b_), N, C, F);
  act::MlpActivation(c.act, c.fc, cfg_.swiglu, N, H);
  RowParallel(out, c.act, pb, out_w_, out_b_, N, H);
  ops::residual_forward(out, out, c.res1.data(), N * C);
}

void TransformerBlock::Backward(BlockCache& c, ParamBuffer& pb, float* dinp, const float* dout, const float* inp,
                                int64_t N, const int32_t* cu, int num_seqs, int max_seqlen) const {
  const int64_t C = cfg_.width, T = cfg_.tp, H = cfg_.hidden / T, F = cfg_.swiglu ? 2 * H : H;
  const int64_t NH = cfg_.heads / T, HD = cfg_.width / cfg_.heads, A = NH * HD;
  Tensor &dres1 = scratch_.dres1, &dact = scratch_.dact, &dfc = scratch_.dfc, &dln2 = scratch_.dln2;
  dres1.Resize({N, C});
  ops::copy(dres1.data(), dout, N * C);  // out = res1 + mlp  => dres1 starts as dout
  dact.Resize({N, H});
  dfc.Resize({N, F});
  dln2.Resize({N, C});
  // Row-parallel backward: dout is replicated, so the replicated bias's
  // gradient comes out whole on every rank.
  act::LinearBackward(dact.data(), pb.grad(out_w_), pb.grad(out_b_), dout, c.act, pb.param(out_w_), N, H, C);
  act::MlpActivationBackward(dfc.data(), dact.data(), c.fc, cfg_.swiglu, N, H);
  act::LinearBackward(dln2.data(), pb.grad(fc_w_), pb.grad(fc_b_), dfc.data(), c.ln2, pb.param(fc_w_), N, C, F);
  if (T > 1) tp_->AllReduceSum(dln2.data(), N * C);  // column-parallel input gradient: partial per rank
  if (cfg_.rmsnorm)
    ops::rmsnorm_backward(dres1.data(), pb.grad(ln2_w_), dln2.data(), c.res1.data(), pb.param(ln2_w_),
                          c.ln2_rstd.data(), N, C);
  else
    ops::layernorm_backward(dres1.data(), pb.grad(ln2_w_), pb.grad(ln2_b_), dln2.data(), c.res1.data(),
                            pb.param(ln2_w_), c.ln2_mean.data(), c.ln2_rstd.data(), N, C);

  // res1 = inp + proj(att)
  ops::accumulate(dinp, dres1.data(), N * C);
  Tensor &datt = scratch_.datt, &dqkv = scratch_.dqkv, &dln1 = scratch_.dln1;
  datt.Resize({N, A});
  dqkv.Resize({N, 3 * A});
  dln1.Resize({N, C});
  act::LinearBackward(datt.data(), pb.grad(proj_w_), pb.grad(proj_b_), dres1.data(), c.att, pb.param(proj_w_), N, A,
                      C);
  act::AttentionBackward(dqkv.data(), datt.data(), c.qkv, c.att, c.att_lse.data(), cu, num_seqs, max_seqlen, NH, HD,
                         cfg_.causal);
  act::LinearBackward(dln1.data(), pb.grad(qkv_w_), pb.grad(qkv_b_), dqkv.data(), c.ln1, pb.param(qkv_w_), N, C,
                      3 * A);
  if (T > 1) tp_->AllReduceSum(dln1.data(), N * C);
  if (cfg_.rmsnorm)
    ops::rmsnorm_backward(dinp, pb.grad(ln1_w_), dln1.data(), inp, pb.param(ln1_w_), c.ln1_rstd.data(), N, C);
  else
    ops::layernorm_backward(dinp, pb.grad(ln1_w_), pb.grad(ln1_b_), dln1.data(), inp, pb.param(ln1_w_),
                            c.ln1_mean.data(), c.ln1_rstd.data(), N, C);
  pb.BucketReady(bucket_);
}

size_t BlockCache::bytes() const {
  size_t n = 0;
  for (const ActBuffer* a : {&ln1, &qkv, &att, &ln2, &fc, &act}) n += a->bytes();
  for (const Tensor* t : {&ln1_mean, &ln1_rstd, &att_lse, &res1, &ln2_mean, &ln2_rstd})
    n += static_cast<size_t>(t->numel()) * sizeof(float);
  return n;
}

}  // namespace braid::nn

namespace braid::nn {

void TransformerBlock::DecodeStep(const ParamBuffer& pb, float* x, int64_t B, float* kcache, float* vcache,
                                  int64_t cap, const int32_t* len) const {
  const int64_t C = cfg_.width, H = cfg_.hidden, F = cfg_.swiglu ? 2 * H : H;
  const int64_t NH = cfg_.heads, HD = C / NH;
  BRAID_CHECK(cfg_.causal);
  BRAID_CHECK_MSG(cfg_.tp == 1, "decoding runs on the unsharded model (tp 1)");
  Tensor ln({B, C}), mean({B}), rstd({B}), qkv({B, 3 * C}), att({B, C}), tmp({B, C}), fc({B, F}), act({B, H});
  if (cfg_.rmsnorm)
    ops::rmsnorm_forward(ln.data(), rstd.data(), x, pb.param(ln1_w_), B, C);
  else
    ops::layernorm_forward(ln.data(), mean.data(), rstd.data(), x, pb.param(ln1_w_), pb.param(ln1_b_), B, C);
  ops::matmul_forward(qkv.data(), ln.data(), pb.param(qkv_w_), pb.param(qkv_b_), B, C, 3 * C);
  const float scale = 1.0f / std::sqrt(float(HD));
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = len[b];
    float* kc = kcache + b * cap * C;
    float* vc = vcache + b * cap * C;
    std::copy(qkv.data() + b * 3 * C + C, qkv.data() + b * 3 * C + 2 * C, kc + L * C);
    std::copy(qkv.data() + b * 3 * C + 2 * C, qkv.data() + b * 3 * C + 3 * C, vc + L * C);
    std::vector<float> p(static_cast<size_t>(L + 1));
    for (int64_t h = 0; h < NH; ++h) {
      const float* q = qkv.data() + b * 3 * C + h * HD;
      float mx = -1e30f;
      for (int64_t j = 0; j <= L; ++j) {
        float s = 0;
        for (int64_t d = 0; d < HD; ++d) s += q[d] * kc[j * C + h * HD + d];
        p[size_t(j)] = s * scale;
        mx = std::max(mx, p[size_t(j)]);
      }
      float sum = 0;
      for (int64_t j = 0; j <= L; ++j) sum += (p[size_t(j)] = std::exp(p[size_t(j)] - mx));
      float* o = att.data() + b * C + h * HD;
      for (int64_t j = 0; j <= L; ++j)
        for (int64_t d = 0; d < HD; ++d) o[d] += p[size_t(j)] / sum * vc[j * C + h * HD + d];
    }
  }
  ops::matmul_forward(tmp.data(), att.data(), pb.param(proj_w_), pb.param(proj_b_), B, C, C);
  ops::residual_forward(x, x, tmp.data(), B * C);
  if (cfg_.rmsnorm)
    ops::rmsnorm_forward(ln.data(), rstd.data(), x, pb.param(ln2_w_), B, C);
  else
    ops::layernorm_forward(ln.data(), mean.data(), rstd.data(), x, pb.param(ln2_w_), pb.param(ln2_b_), B, C);
  ops::matmul_forward(fc.data(), ln.data(), pb.param(fc_w_), pb.param(fc_b_), B, C, F);
  if (cfg_.swiglu)
    ops::swiglu_forward(act.data(), fc.data(), B, H);
  else
    ops::gelu_forward(act.data(), fc.data(), B * H);
  ops::matmul_forward(tmp.data(), act.data(), pb.param(out_w_), pb.param(out_b_), B, H, C);
  ops::residual_forward(x, x, tmp.data(), B * C);
}

}  // namespace braid::nn
