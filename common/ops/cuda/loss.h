// CUDA softmax cross-entropy (fused, one block per row, online softmax in
// float) and MSE: the meaning of ops/cpu/loss.h on the calling thread's
// cuda::Context stream, T float or bf16 (dtype.h); the per-row arithmetic is
// common/ops/math/loss.h. Backward gradients accumulate with +=, as on the
// CPU; targets[n] < 0 ignores row n, and targets must be < V (as on the
// CPU; a larger one gives that row a NaN loss and no one-hot term).
//
// API difference from the CPU: the CPU forwards return the loss sum (double)
// to the host, which on the GPU would synchronise the stream. The CUDA
// forwards instead leave their results on the device: the per-row losses
// (float for every T), the sum as a device double and the count of rows
// that are not ignored as a device int64. Every sum is deterministic (a
// fixed-order two-pass reduction, no float atomics, block_reduce.h): the
// same inputs give the same bits on every run. `scale` is a float for every
// T.
#pragma once

#include <cstdint>

namespace braid::ops::cuda {

// logits (N, V), targets (N). losses (N, required) receives each row's
// -log p(target) (0 for ignored rows); *loss_sum (device) their sum over the
// rows, *count (device) the number of rows with targets[n] >= 0.
template <typename T>
void cross_entropy_forward(float* losses, double* loss_sum, int64_t* count, const T* logits, const int32_t* targets,
                           int64_t N, int64_t V);
// dlogits += scale * (softmax(logits) - onehot(target)) for rows not ignored.
template <typename T>
void cross_entropy_backward(T* dlogits, const T* logits, const int32_t* targets, int64_t N, int64_t V, float scale);

// *sum (device) = sum((pred - target)^2) over n elements, accumulated in
// double; scratch: braid::cuda::kSumPartials doubles (block_reduce.h).
template <typename T>
void mse_forward(double* sum, const T* pred, const T* target, int64_t n, double* scratch);
// pred and target (rows, cols): *sum (device) += (sum over rows of the
// row's squared-error sum / cols) / divisor, rows added in order (the CPU's
// mse_rows_forward); row_sse: `rows` doubles of scratch.
template <typename T>
void mse_rows_forward(double* sum, const T* pred, const T* target, int64_t rows, int64_t cols, double divisor,
                      double* row_sse);
// *acc += *x, both device doubles (a forward's sum added to a step's).
void add_scalar(double* acc, const double* x);
// dpred += scale * 2 * (pred - target).
template <typename T>
void mse_backward(T* dpred, const T* pred, const T* target, int64_t n, float scale);

// --- Vocabulary-parallel cross-entropy (nn/vocab_parallel.cc): this rank,
// `rank` of a group of `ranks`, holds the logit columns [v_begin, v_end) of
// the full vocabulary, logits_local (N, Vl = v_end - v_begin). The group
// sums (all-reduces) the tables between the steps; the kernels do the
// per-rank work. Statistics are float.
//
// 1. maxima (N, ranks): row n's local maximum in column `rank`, 0 in the
//    others (overwritten), so that the group's sum gathers every rank's.
template <typename T>
void vocab_parallel_row_max(float* maxima, const T* logits_local, int64_t N, int64_t Vl, int ranks, int rank);
// 2. With maxima summed over the group: row_max[n] = the row's global
//    maximum (the max of its `ranks` columns); sums (N, 2) = this rank's
//    sum_j exp(logit_j - row_max[n]) and the target's logit when the target
//    is in [v_begin, v_end), else 0 (overwritten).
template <typename T>
void vocab_parallel_exp_sums(float* row_max, float* sums, const float* maxima, const T* logits_local,
                             const int32_t* targets, int64_t v_begin, int64_t v_end, int64_t N, int ranks);
// 3. With sums summed over the group: row_sum[n] = the row's global exp-sum;
//    losses[n] = log(row_sum) + row_max - target logit (0 for ignored rows);
//    *loss_sum and *count (device) as cross_entropy_forward's.
void vocab_parallel_loss(float* losses, float* row_sum, double* loss_sum, int64_t* count, const float* row_max,
                         const float* sums, const int32_t* targets, int64_t N);
// 4. dlogits_local += scale * (softmax - onehot(target)) on this rank's
//    columns, for rows with a target, from the forward's row_max and row_sum.
template <typename T>
void vocab_parallel_cross_entropy_backward(T* dlogits_local, const T* logits_local, const int32_t* targets,
                                           int64_t v_begin, int64_t v_end, int64_t N, const float* row_max,
                                           const float* row_sum, float scale);

}  // namespace braid::ops::cuda
