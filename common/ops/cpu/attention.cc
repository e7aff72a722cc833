#include "common/ops/cpu/attention.h"

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "common/base/host_cores.h"
#include "common/ops/backend.h"
#include "common/ops/cpu/matmul.h"

namespace braid::ops {
namespace {

// Work items are (sequence, head) pairs: each writes a disjoint slice of the
// outputs, so the result does not depend on the thread count. Inside a task
// the products are single-threaded GEMMs on strided views of the packed qkv
// (OpenBLAS runs serially when called inside an OpenMP parallel region).
struct Task {
  int seq;
  int64_t head;
};

inline std::vector<Task> MakeTasks(int num_seqs, int64_t NH) {
  std::vector<Task> tasks;
  tasks.reserve(static_cast<size_t>(num_seqs * NH));
  for (int s = 0; s < num_seqs; ++s)
    for (int64_t h = 0; h < NH; ++h) tasks.push_back({s, h});
  return tasks;
}

}  // namespace

template <typename T>
void attention_forward(T* out, T* lse, const T* qkv, const int32_t* cu_seqlens, int num_seqs, int max_seqlen,
                       int64_t NH, int64_t HD, bool causal) {
  BRAID_DEVICE_DISPATCH(attention_forward, out, lse, qkv, cu_seqlens, num_seqs, max_seqlen, NH, HD, causal);
  AtOpBoundary();
  const int64_t C = NH * HD, C3 = 3 * C;
  const T scale = T(1) / std::sqrt(T(HD));
  std::vector<Task> tasks = MakeTasks(num_seqs, NH);
  const int64_t ntasks = static_cast<int64_t>(tasks.size());
#pragma omp parallel
  {
    std::vector<T> S;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < ntasks; ++t) {
      const int64_t b = cu_seqlens[tasks[t].seq], e = cu_seqlens[tasks[t].seq + 1];
      const int64_t h = tasks[t].head, L = e - b;
      if (L == 0) continue;
      const T* q = qkv + b * C3 + h * HD;
      const T* k = q + C;
      const T* v = q + 2 * C;
      S.assign(static_cast<size_t>(L * L), T(0));
      // S (L,L) = scale * Q (L,HD) K^T
      gemm<T>(false, true, L, L, HD, scale, q, C3, k, C3, T(0), S.data(), L);
      for (int64_t i = 0; i < L; ++i) {
        T* row = S.data() + i * L;
        const int64_t jmax = causal ? i + 1 : L;
        T mx = -std::numeric_limits<T>::infinity();
        for (int64_t j = 0; j < jmax; ++j) mx = row[j] > mx ? row[j] : mx;
        T sum = 0;
        for (int64_t j = 0; j < jmax; ++j) {
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        const T inv = T(1) / sum;
        for (int64_t j = 0; j < jmax; ++j) row[j] *= inv;
        for (int64_t j = jmax; j < L; ++j) row[j] = 0;
        lse[(b + i) * NH + h] = mx + std::log(sum);
      }
      // O (L,HD) = P (L,L) V (L,HD)
      gemm<T>(false, false, L, HD, L, T(1), S.data(), L, v, C3, T(0), out + b * C + h * HD, C);
    }
  }
}

template <typename T>
void attention_backward(T* dqkv, const T* dout, const T* qkv, const T* out, const T* lse,
                        const int32_t* cu_seqlens, int num_seqs, int max_seqlen, int64_t NH, int64_t HD,
                        bool causal) {
  BRAID_DEVICE_DISPATCH(attention_backward, dqkv, dout, qkv, out, lse, cu_seqlens, num_seqs, max_seqlen, NH, HD,
                        causal);
  AtOpBoundary();
  const int64_t C = NH * HD, C3 = 3 * C;
  const T scale = T(1) / std::sqrt(T(HD));
  std::vector<Task> tasks = MakeTasks(num_seqs, NH);
  const int64_t ntasks = static_cast<int64_t>(tasks.size());
#pragma omp parallel
  {
    std::vector<T> P, dP;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < ntasks; ++t) {
      const int64_t b = cu_seqlens[tasks[t].seq], e = cu_seqlens[tasks[t].seq + 1];
      const int64_t h = tasks[t].head, L = e - b;
      if (L == 0) continue;
      const T* q = qkv + b * C3 + h * HD;
      const T* k = q + C;
      const T* v = q + 2 * C;
      const T* dO = dout + b * C + h * HD;
      const T* O = out + b * C + h * HD;
      T* dq = dqkv + b * C3 + h * HD;
      T* dk = dq + C;
      T* dv = dq + 2 * C;
      P.assign(static_cast<size_t>(L * L), T(0));
      dP.assign(static_cast<size_t>(L * L), T(0));
      // Recompute P from the saved log-sum-exp.
      gemm<T>(false, true, L, L, HD, scale, q, C3, k, C3, T(0), P.data(), L);
      for (int64_t i = 0; i < L; ++i) {
        T* row = P.data() + i * L;
        const T l = lse[(b + i) * NH + h];
        const int64_t jmax = causal ? i + 1 : L;
        for (int64_t j = 0; j < jmax; ++j) row[j] = std::exp(row[j] - l);
        for (int64_t j = jmax; j < L; ++j) row[j] = 0;
      }
      // dV += P^T dO
      gemm<T>(true, false, L, HD, L, T(1), P.data(), L, dO, C, T(1), dv, C3);
      // dP = dO V^T
      gemm<T>(false, true, L, L, HD, T(1), dO, C, v, C3, T(0), dP.data(), L);
      // dS = P * (dP - D_i) * scale, D_i = dO_i . O_i   (stored in dP)
      for (int64_t i = 0; i < L; ++i) {
        T D = 0;
        for (int64_t d = 0; d < HD; ++d) D += dO[i * C + d] * O[i * C + d];
        T* dp = dP.data() + i * L;
        const T* p = P.data() + i * L;
        for (int64_t j = 0; j < L; ++j) dp[j] = p[j] * (dp[j] - D) * scale;
      }
      // dQ += dS K ; dK += dS^T Q
      gemm<T>(false, false, L, HD, L, T(1), dP.data(), L, k, C3, T(1), dq, C3);
      gemm<T>(true, false, L, HD, L, T(1), dP.data(), L, q, C3, T(1), dk, C3);
    }
  }
}

#define BRAID_INSTANTIATE(T)                                                                                    \
  template void attention_forward<T>(T*, T*, const T*, const int32_t*, int, int, int64_t, int64_t, bool); \
  template void attention_backward<T>(T*, const T*, const T*, const T*, const T*, const int32_t*, int, int,  \
                                      int64_t, int64_t, bool);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(double)

}  // namespace braid::ops
