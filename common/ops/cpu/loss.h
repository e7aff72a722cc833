// Loss functions. Both take a `scale` so the caller can divide by the
// *global* count of the step (DESIGN.md §2, loss normalisation).
#pragma once

#include <cstdint>

namespace braid::ops {

// Softmax cross-entropy per row of logits (N, V) against targets (N), where
// targets[n] < 0 means "ignore this row". Returns the *sum* of -log p over
// rows that are not ignored (as double), and writes the count of those rows.
// losses (N) may be null; when given, it receives the per-row loss (0 for ignored).
template <typename T>
double cross_entropy_forward(T* losses, const T* logits, const int32_t* targets, int64_t N, int64_t V,
                             int64_t* count);
// dlogits += scale * (softmax(logits) - onehot(target)) for rows not ignored.
template <typename T>
void cross_entropy_backward(T* dlogits, const T* logits, const int32_t* targets, int64_t N, int64_t V, T scale);

// Returns sum((pred - target)^2) over n elements, as double.
template <typename T>
double mse_forward(const T* pred, const T* target, int64_t n);
// dpred += scale * 2 * (pred - target).
template <typename T>
void mse_backward(T* dpred, const T* pred, const T* target, int64_t n, T scale);

}  // namespace braid::ops
