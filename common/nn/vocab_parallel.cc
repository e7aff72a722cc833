#include "common/nn/vocab_parallel.h"

#include <algorithm>
#include <cmath>

#include "common/base/host_cores.h"

namespace braid::nn {

void VocabParallelEmbeddingForward(float* out, const int32_t* ids, const float* table_local, parallel::Range v,
                                   int64_t N, int64_t C, parallel::TpContext* tp) {
  AtOpBoundary();
  for (int64_t n = 0; n < N; ++n) {
    float* row = out + n * C;
    const int64_t id = ids[n];
    if (id >= v.begin && id < v.end)
      std::copy(table_local + (id - v.begin) * C, table_local + (id - v.begin + 1) * C, row);
    else
      std::fill(row, row + C, 0.0f);
  }
  tp->AllReduceSum(out, N * C);
}

void VocabParallelEmbeddingBackward(float* dtable_local, const float* dout, const int32_t* ids, parallel::Range v,
                                    int64_t N, int64_t C) {
  AtOpBoundary();
  for (int64_t n = 0; n < N; ++n) {
    const int64_t id = ids[n];
    if (id < v.begin || id >= v.end) continue;
    float* row = dtable_local + (id - v.begin) * C;
    for (int64_t c = 0; c < C; ++c) row[c] += dout[n * C + c];
  }
}

double VocabParallelCrossEntropyForward(const float* logits, const int32_t* targets, parallel::Range v, int64_t N,
                                        parallel::TpContext* tp, int64_t* count, VocabParallelCeCache* cache) {
  AtOpBoundary();
  const int64_t Vl = v.size();
  const int T = tp->size(), r = tp->rank();
  // 1. Each row's maximum over the whole vocabulary: every rank puts its
  //    local maxima in its own column of an (N, T) table; the sum gathers them.
  std::vector<float> maxima(static_cast<size_t>(N * T), 0.0f);
  for (int64_t n = 0; n < N; ++n) {
    const float* l = logits + n * Vl;
    maxima[size_t(n * T + r)] = *std::max_element(l, l + Vl);
  }
  tp->AllReduceSum(maxima.data(), N * T);
  cache->max.assign(size_t(N), 0.0f);
  cache->sum.assign(size_t(N), 0.0f);
  // 2. Sum of exp(logit - max) and the target's logit, summed over ranks.
  std::vector<float> sums(static_cast<size_t>(N * 2), 0.0f);
  for (int64_t n = 0; n < N; ++n) {
    const float m = *std::max_element(maxima.begin() + n * T, maxima.begin() + (n + 1) * T);
    cache->max[size_t(n)] = m;
    const float* l = logits + n * Vl;
    float s = 0;
    for (int64_t j = 0; j < Vl; ++j) s += std::exp(l[j] - m);
    sums[size_t(2 * n)] = s;
    const int64_t t = targets[n];
    if (t >= v.begin && t < v.end) sums[size_t(2 * n + 1)] = l[t - v.begin];
  }
  tp->AllReduceSum(sums.data(), N * 2);
  double loss = 0;
  int64_t k = 0;
  for (int64_t n = 0; n < N; ++n) {
    cache->sum[size_t(n)] = sums[size_t(2 * n)];
    if (targets[n] < 0) continue;
    loss += double(std::log(sums[size_t(2 * n)])) + double(cache->max[size_t(n)]) - double(sums[size_t(2 * n + 1)]);
    ++k;
  }
  if (count) *count = k;
  return loss;
}

void VocabParallelCrossEntropyBackward(float* dlogits, const float* logits, const int32_t* targets, parallel::Range v,
                                       int64_t N, const VocabParallelCeCache& cache, float scale) {
  AtOpBoundary();
  const int64_t Vl = v.size();
  for (int64_t n = 0; n < N; ++n) {
    const int64_t t = targets[n];
    if (t < 0) continue;
    const float m = cache.max[size_t(n)], inv = 1.0f / cache.sum[size_t(n)];
    const float* l = logits + n * Vl;
    float* d = dlogits + n * Vl;
    for (int64_t j = 0; j < Vl; ++j) d[j] += scale * std::exp(l[j] - m) * inv;
    if (t >= v.begin && t < v.end) d[t - v.begin] -= scale;
  }
}

}  // namespace braid::nn
