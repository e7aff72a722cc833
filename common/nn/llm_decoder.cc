#include "common/nn/llm_decoder.h"

#include <algorithm>

#include "common/base/check.h"
#include "common/ops/cpu/embedding.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/norm.h"

namespace braid::nn {
namespace {
int32_t Argmax(const float* row, int64_t V) {
  return int32_t(std::max_element(row, row + V) - row);
}
}  // namespace

std::vector<std::vector<int32_t>> GreedyDecode(Llm& llm, const LlmBatch& prompts, const float* image_emb,
                                               int max_new, const std::function<bool(int32_t)>& stop) {
  const int64_t B = prompts.num_seqs(), C = llm.width(), V = llm.config().vocab;
  const int layers = llm.config().layers;
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(B));
  if (B == 0 || max_new <= 0) return out;
  llm.Forward(prompts, image_emb, nullptr, nullptr, nullptr);

  int64_t max_len = 0;
  for (int64_t b = 0; b < B; ++b) max_len = std::max<int64_t>(max_len, prompts.cu_seqlens[b + 1] - prompts.cu_seqlens[b]);
  const int64_t cap = std::min<int64_t>(max_len + max_new, llm.config().max_seq);
  std::vector<std::vector<float>> kc(static_cast<size_t>(layers)), vc(static_cast<size_t>(layers));
  std::vector<int32_t> len(static_cast<size_t>(B));
  for (int l = 0; l < layers; ++l) {
    kc[size_t(l)].assign(size_t(B * cap * C), 0.0f);
    vc[size_t(l)].assign(size_t(B * cap * C), 0.0f);
    const Tensor& qkv = llm.layer_qkv(l);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t s = prompts.cu_seqlens[b], e = prompts.cu_seqlens[b + 1];
      for (int64_t r = s; r < e; ++r) {
        const float* row = qkv.data() + r * 3 * C;
        std::copy(row + C, row + 2 * C, kc[size_t(l)].data() + (b * cap + (r - s)) * C);
        std::copy(row + 2 * C, row + 3 * C, vc[size_t(l)].data() + (b * cap + (r - s)) * C);
      }
    }
  }
  std::vector<int32_t> next(static_cast<size_t>(B));
  std::vector<char> done(static_cast<size_t>(B), 0);
  for (int64_t b = 0; b < B; ++b) {
    len[size_t(b)] = prompts.cu_seqlens[b + 1] - prompts.cu_seqlens[b];
    next[size_t(b)] = Argmax(llm.logits().data() + int64_t(prompts.cu_seqlens[b + 1] - 1) * V, V);
  }
  const ParamBuffer& pb = llm.params();
  Tensor x({B, C}), h({B, C}), rstd({B}), logits({B, V});
  for (int step = 0; step < max_new; ++step) {
    bool any = false;
    for (int64_t b = 0; b < B; ++b) {
      if (done[size_t(b)]) continue;
      out[size_t(b)].push_back(next[size_t(b)]);
      if (stop(next[size_t(b)]) || len[size_t(b)] >= cap) done[size_t(b)] = 1;
      else any = true;
    }
    if (!any || step + 1 == max_new) break;
    // One decode step for every sequence (finished ones are computed and ignored).
    std::vector<int32_t> pos(static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) pos[size_t(b)] = std::min<int32_t>(len[size_t(b)], int32_t(cap - 1));
    ops::embedding_forward(x.data(), next.data(), pb.param(llm.tok_emb_index()), B, C);
    ops::add_positions_forward(x.data(), pos.data(), pb.param(llm.pos_emb_index()), B, C);
    for (int l = 0; l < layers; ++l)
      llm.block(l).DecodeStep(pb, x.data(), B, kc[size_t(l)].data(), vc[size_t(l)].data(), cap, pos.data());
    ops::rmsnorm_forward(h.data(), rstd.data(), x.data(), pb.param(llm.norm_f_index()), B, C);
    ops::matmul_forward<float>(logits.data(), h.data(), pb.param(llm.lm_head_index()), nullptr, B, C, V);
    for (int64_t b = 0; b < B; ++b) {
      next[size_t(b)] = Argmax(logits.data() + b * V, V);
      len[size_t(b)] = pos[size_t(b)] + 1;
    }
  }
  return out;
}

}  // namespace braid::nn
