#include "common/ops/cpu/vocab_parallel.h"

#include <algorithm>
#include <cmath>

#include "common/base/host_cores.h"
#include "common/ops/backend.h"

namespace braid::ops {

// BRAID_DEVICE_DISPATCH dispatches float ops only.
#define BRAID_VP_DISPATCH(op, ...) \
  do {                             \
    using T = float;               \
    BRAID_DEVICE_DISPATCH(op, __VA_ARGS__); \
  } while (0)

void vocab_embedding_forward(float* out, const int32_t* ids, const float* table_local, int64_t v_begin,
                             int64_t v_end, int64_t N, int64_t C) {
  BRAID_VP_DISPATCH(vocab_embedding_forward, out, ids, table_local, v_begin, v_end, N, C);
  AtOpBoundary();
  for (int64_t n = 0; n < N; ++n) {
    float* row = out + n * C;
    const int64_t id = ids[n];
    if (id >= v_begin && id < v_end)
      std::copy(table_local + (id - v_begin) * C, table_local + (id - v_begin + 1) * C, row);
    else
      std::fill(row, row + C, 0.0f);
  }
}

void vocab_embedding_backward(float* dtable_local, const float* dout, const int32_t* ids, int64_t v_begin,
                              int64_t v_end, int64_t N, int64_t C) {
  BRAID_VP_DISPATCH(vocab_embedding_backward, dtable_local, dout, ids, v_begin, v_end, N, C);
  AtOpBoundary();
  for (int64_t n = 0; n < N; ++n) {
    const int64_t id = ids[n];
    if (id < v_begin || id >= v_end) continue;
    float* row = dtable_local + (id - v_begin) * C;
    for (int64_t c = 0; c < C; ++c) row[c] += dout[n * C + c];
  }
}

void vocab_ce_row_max(float* maxima, const float* logits_local, int64_t N, int64_t Vl, int ranks, int rank) {
  BRAID_VP_DISPATCH(vocab_ce_row_max, maxima, logits_local, N, Vl, ranks, rank);
  AtOpBoundary();
  for (int64_t n = 0; n < N; ++n) {
    const float* l = logits_local + n * Vl;
    for (int c = 0; c < ranks; ++c) maxima[n * ranks + c] = 0.0f;
    maxima[n * ranks + rank] = *std::max_element(l, l + Vl);
  }
}

void vocab_ce_exp_sums(float* row_max, float* sums, const float* maxima, const float* logits_local,
                       const int32_t* targets, int64_t v_begin, int64_t v_end, int64_t N, int ranks) {
  BRAID_VP_DISPATCH(vocab_ce_exp_sums, row_max, sums, maxima, logits_local, targets, v_begin, v_end, N, ranks);
  AtOpBoundary();
  const int64_t Vl = v_end - v_begin;
  for (int64_t n = 0; n < N; ++n) {
    const float m = *std::max_element(maxima + n * ranks, maxima + (n + 1) * ranks);
    row_max[n] = m;
    const float* l = logits_local + n * Vl;
    float s = 0;
    for (int64_t j = 0; j < Vl; ++j) s += std::exp(l[j] - m);
    sums[2 * n] = s;
    const int64_t t = targets[n];
    sums[2 * n + 1] = t >= v_begin && t < v_end ? l[t - v_begin] : 0.0f;
  }
}

void vocab_ce_loss(float* row_sum, double* loss_sum, const float* row_max, const float* sums,
                   const int32_t* targets, int64_t N) {
  BRAID_VP_DISPATCH(vocab_ce_loss, row_sum, loss_sum, row_max, sums, targets, N);
  AtOpBoundary();
  double loss = 0;
  for (int64_t n = 0; n < N; ++n) {
    row_sum[n] = sums[2 * n];
    if (targets[n] < 0) continue;
    loss += double(std::log(sums[2 * n])) + double(row_max[n]) - double(sums[2 * n + 1]);
  }
  if (loss_sum != nullptr) *loss_sum += loss;
}

void vocab_ce_backward(float* dlogits_local, const float* logits_local, const int32_t* targets, int64_t v_begin,
                       int64_t v_end, int64_t N, const float* row_max, const float* row_sum, float scale) {
  BRAID_VP_DISPATCH(vocab_ce_backward, dlogits_local, logits_local, targets, v_begin, v_end, N, row_max, row_sum,
                    scale);
  AtOpBoundary();
  const int64_t Vl = v_end - v_begin;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t t = targets[n];
    if (t < 0) continue;
    const float m = row_max[n], inv = 1.0f / row_sum[n];
    const float* l = logits_local + n * Vl;
    float* d = dlogits_local + n * Vl;
    for (int64_t j = 0; j < Vl; ++j) d[j] += scale * std::exp(l[j] - m) * inv;
    if (t >= v_begin && t < v_end) d[t - v_begin] -= scale;
  }
}

#undef BRAID_VP_DISPATCH

}  // namespace braid::ops
