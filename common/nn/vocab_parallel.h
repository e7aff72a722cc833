// Vocabulary-parallel token embedding and softmax cross-entropy (Megatron),
// composed of the per-rank ops of ops/cpu/vocab_parallel.h (which dispatch
// to the thread's device) and the TP group's sums:
// a TP rank holds the rows [v.begin, v.end) of the token table and of the
// LM head, so its logits are the columns [v.begin, v.end). Neither the
// table nor the full logits are ever gathered: the embedding sums each
// rank's rows (zero for ids it does not hold) and the loss combines per-row
// maxima, exp-sums and target logits over the group.
#pragma once

#include <cstdint>

#include "common/parallel/layout.h"
#include "common/parallel/tp_comm.h"
#include "common/tensor/tensor.h"

namespace braid::nn {

// out (N, C) = table[ids[n]], summed over the group (overwrites out).
void VocabParallelEmbeddingForward(float* out, const int32_t* ids, const float* table_local, parallel::Range v,
                                   int64_t N, int64_t C, parallel::TpContext* tp);
// dtable_local[ids[n] - v.begin] += dout[n] for the ids this rank holds.
void VocabParallelEmbeddingBackward(float* dtable_local, const float* dout, const int32_t* ids, parallel::Range v,
                                    int64_t N, int64_t C);

// What the backward needs of the forward: each row's global max and exp-sum.
struct VocabParallelCeCache {
  Tensor max, sum;
};

// logits_local (N, v.size()). Adds the summed -log p(target) over rows with
// targets[n] >= 0 (the same on every rank) to *loss_sum (the thread's
// memory; null: no loss). Every rank of the group calls it (collectives).
void VocabParallelCrossEntropyForward(const float* logits_local, const int32_t* targets, parallel::Range v, int64_t N,
                                      parallel::TpContext* tp, double* loss_sum, VocabParallelCeCache* cache);
// dlogits_local += scale * (softmax - onehot(target)) on this rank's columns,
// for rows with a target.
void VocabParallelCrossEntropyBackward(float* dlogits_local, const float* logits_local, const int32_t* targets,
                                       parallel::Range v, int64_t N, const VocabParallelCeCache& cache, float scale);

}  // namespace braid::nn
