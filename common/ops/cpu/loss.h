// Loss functions. Both take a `scale` so the caller can divide by the
// *global* count of the step (DESIGN.md §2, loss normalisation).
//
// The forwards *add* their sums into a double in the thread's memory (device
// memory with a device backend), so that a training step reads its loss
// sums back once, with its report, instead of waiting for the device once
// per microbatch (docs/GPU.md, "Step scalars"). The *_host forms return the
// sum for host arrays (references, tests, benchmarks).
#pragma once

#include <cstdint>

namespace braid::ops {

// Softmax cross-entropy per row of logits (N, V) against targets (N), where
// targets[n] < 0 means "ignore this row". Adds the *sum* of -log p over the
// rows that are not ignored to *loss_sum. losses (N) may be null; when
// given, it receives the per-row loss (0 for ignored).
template <typename T>
void cross_entropy_forward(T* losses, double* loss_sum, const T* logits, const int32_t* targets, int64_t N,
                           int64_t V);
// dlogits += scale * (softmax(logits) - onehot(target)) for rows not ignored.
template <typename T>
void cross_entropy_backward(T* dlogits, const T* logits, const int32_t* targets, int64_t N, int64_t V, T scale);

// pred and target (rows, cols): adds (sum over rows of the row's squared
// error sum / cols) / divisor to *sum, accumulated in double, rows in order.
template <typename T>
void mse_rows_forward(double* sum, const T* pred, const T* target, int64_t rows, int64_t cols, double divisor);
// dpred += scale * 2 * (pred - target).
template <typename T>
void mse_backward(T* dpred, const T* pred, const T* target, int64_t n, T scale);

// Host arrays only (aborts with a device backend on the thread): the
// cross-entropy sum over the rows not ignored, and their count (optional);
// the squared-error sum of n elements.
template <typename T>
double cross_entropy_host(T* losses, const T* logits, const int32_t* targets, int64_t N, int64_t V,
                          int64_t* count = nullptr);
template <typename T>
double squared_error_host(const T* pred, const T* target, int64_t n);

}  // namespace braid::ops
