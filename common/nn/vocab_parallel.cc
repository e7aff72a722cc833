#include "common/nn/vocab_parallel.h"

#include "common/ops/cpu/vocab_parallel.h"

namespace braid::nn {

void VocabParallelEmbeddingForward(float* out, const int32_t* ids, const float* table_local, parallel::Range v,
                                   int64_t N, int64_t C, parallel::TpContext* tp) {
  ops::vocab_embedding_forward(out, ids, table_local, v.begin, v.end, N, C);
  tp->AllReduceSum(out, N * C);
}

void VocabParallelEmbeddingBackward(float* dtable_local, const float* dout, const int32_t* ids, parallel::Range v,
                                    int64_t N, int64_t C) {
  ops::vocab_embedding_backward(dtable_local, dout, ids, v.begin, v.end, N, C);
}

void VocabParallelCrossEntropyForward(const float* logits, const int32_t* targets, parallel::Range v, int64_t N,
                                      parallel::TpContext* tp, double* loss_sum, VocabParallelCeCache* cache) {
  const int T = tp->size(), r = tp->rank();
  // 1. Each row's maximum over the whole vocabulary: every rank puts its
  //    local maxima in its own column of an (N, T) table; the sum gathers them.
  Tensor maxima({N, T});
  ops::vocab_ce_row_max(maxima.data(), logits, N, v.size(), T, r);
  tp->AllReduceSum(maxima.data(), N * T);
  // 2. Sum of exp(logit - max) and the target's logit, summed over ranks.
  cache->max.Resize({N});
  cache->sum.Resize({N});
  Tensor sums({N, 2});
  ops::vocab_ce_exp_sums(cache->max.data(), sums.data(), maxima.data(), logits, targets, v.begin, v.end, N, T);
  tp->AllReduceSum(sums.data(), N * 2);
  // 3. The rows' losses, and the exp-sums the backward needs.
  ops::vocab_ce_loss(cache->sum.data(), loss_sum, cache->max.data(), sums.data(), targets, N);
}

void VocabParallelCrossEntropyBackward(float* dlogits, const float* logits, const int32_t* targets, parallel::Range v,
                                       int64_t N, const VocabParallelCeCache& cache, float scale) {
  ops::vocab_ce_backward(dlogits, logits, targets, v.begin, v.end, N, cache.max.data(), cache.sum.data(), scale);
}

}  // namespace braid::nn
