// The per-rank pieces of the vocabulary-parallel token embedding and
// softmax cross-entropy (nn/vocab_parallel.h composes them with the TP
// group's sums): a TP rank holds the vocabulary rows [v_begin, v_end) of the
// token table and the LM head, so its logits are those columns
// (Vl = v_end - v_begin). Every array is in the thread's memory (device
// memory with a device backend); the CUDA kernels are ops/cuda/loss.h's
// vocab_parallel_* and ops/cuda/embedding.h's vocab_embedding_*.
#pragma once

#include <cstdint>

namespace braid::ops {

// out (N, C) = table_local[ids[n] - v_begin] for the ids this rank holds,
// 0 for the others (overwrites out).
void vocab_embedding_forward(float* out, const int32_t* ids, const float* table_local, int64_t v_begin,
                             int64_t v_end, int64_t N, int64_t C);
// dtable_local[ids[n] - v_begin] += dout[n] for the ids this rank holds.
void vocab_embedding_backward(float* dtable_local, const float* dout, const int32_t* ids, int64_t v_begin,
                              int64_t v_end, int64_t N, int64_t C);

// 1. maxima (N, ranks): row n's maximum over this rank's columns in column
//    `rank`, 0 in the others (overwritten): the group's sum gathers them.
void vocab_ce_row_max(float* maxima, const float* logits_local, int64_t N, int64_t Vl, int ranks, int rank);
// 2. With maxima summed: row_max[n] = the row's global maximum; sums (N, 2)
//    = this rank's sum of exp(logit - row_max[n]) and the target's logit
//    when this rank holds it, else 0 (overwritten).
void vocab_ce_exp_sums(float* row_max, float* sums, const float* maxima, const float* logits_local,
                       const int32_t* targets, int64_t v_begin, int64_t v_end, int64_t N, int ranks);
// 3. With sums summed: row_sum[n] = the row's global exp-sum; adds the sum
//    over rows with a target of log(row_sum) + row_max - target logit to
//    *loss_sum (a double in the thread's memory; null: no loss).
void vocab_ce_loss(float* row_sum, double* loss_sum, const float* row_max, const float* sums,
                   const int32_t* targets, int64_t N);
// 4. dlogits_local += scale * (softmax - onehot(target)) on this rank's
//    columns, for rows with a target.
void vocab_ce_backward(float* dlogits_local, const float* logits_local, const int32_t* targets, int64_t v_begin,
                       int64_t v_end, int64_t N, const float* row_max, const float* row_sum, float scale);

}  // namespace braid::ops
