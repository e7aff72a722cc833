#include "common/ops/cpu/attention.h"

#include <cmath>
#include <limits>
#include <vector>

namespace braid::ops {
namespace {

template <typename T>
inline T Dot(const T* a, const T* b, int64_t n) {
  T s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Work items are (sequence, head) pairs: each writes a disjoint slice of the
// outputs, so the result does not depend on the thread count.
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
void attention_forward(T* out, T* lse, const T* qkv, const int32_t* cu_seqlens, int num_seqs, int64_t NH,
                       int64_t HD, bool causal) {
  const int64_t C = NH * HD, C3 = 3 * C;
  const T scale = T(1) / std::sqrt(T(HD));
  std::vector<Task> tasks = MakeTasks(num_seqs, NH);
  const int64_t ntasks = static_cast<int64_t>(tasks.size());
#pragma omp parallel
  {
    std::vector<T> p;
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < ntasks; ++t) {
      const int64_t b = cu_seqlens[tasks[t].seq], e = cu_seqlens[tasks[t].seq + 1];
      const int64_t h = tasks[t].head, L = e - b;
      p.resize(static_cast<size_t>(L));
      for (int64_t i = 0; i < L; ++i) {
        const T* q = qkv + (b + i) * C3 + h * HD;
        const int64_t jmax = causal ? i + 1 : L;
        T mx = -std::numeric_limits<T>::infinity();
        for (int64_t j = 0; j < jmax; ++j) {
          const T* k = qkv + (b + j) * C3 + C + h * HD;
          p[j] = Dot(q, k, HD) * scale;
          if (p[j] > mx) mx = p[j];
        }
        T sum = 0;
        for (int64_t j = 0; j < jmax; ++j) {
          p[j] = std::exp(p[j] - mx);
          sum += p[j];
        }
        T inv = T(1) / sum;
        T* o = out + (b + i) * C + h * HD;
        for (int64_t d = 0; d < HD; ++d) o[d] = 0;
        for (int64_t j = 0; j < jmax; ++j) {
          const T* v = qkv + (b + j) * C3 + 2 * C + h * HD;
          T w = p[j] * inv;
          for (int64_t d = 0; d < HD; ++d) o[d] += w * v[d];
        }
        lse[(b + i) * NH + h] = mx + std::log(sum);
      }
    }
  }
}

template <typename T>
void attention_backward(T* dqkv, const T* dout, const T* qkv, const T* out, const T* lse,
                        const int32_t* cu_seqlens, int num_seqs, int64_t NH, int64_t HD, bool causal) {
  const int64_t C = NH * HD, C3 = 3 * C;
  const T scale = T(1) / std::sqrt(T(HD));
  std::vector<Task> tasks = MakeTasks(num_seqs, NH);
  const int64_t ntasks = static_cast<int64_t>(tasks.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t t = 0; t < ntasks; ++t) {
    const int64_t b = cu_seqlens[tasks[t].seq], e = cu_seqlens[tasks[t].seq + 1];
    const int64_t h = tasks[t].head, L = e - b;
    for (int64_t i = 0; i < L; ++i) {
      const T* q = qkv + (b + i) * C3 + h * HD;
      const T* dO = dout + (b + i) * C + h * HD;
      const T* O = out + (b + i) * C + h * HD;
      T* dq = dqkv + (b + i) * C3 + h * HD;
      const T Di = Dot(dO, O, HD);
      const T l = lse[(b + i) * NH + h];
      const int64_t jmax = causal ? i + 1 : L;
      for (int64_t j = 0; j < jmax; ++j) {
        const T* k = qkv + (b + j) * C3 + C + h * HD;
        const T* v = qkv + (b + j) * C3 + 2 * C + h * HD;
        T* dk = dqkv + (b + j) * C3 + C + h * HD;
        T* dv = dqkv + (b + j) * C3 + 2 * C + h * HD;
        const T pij = std::exp(Dot(q, k, HD) * scale - l);
        const T dp = Dot(dO, v, HD);
        const T ds = pij * (dp - Di) * scale;
        for (int64_t d = 0; d < HD; ++d) {
          dv[d] += pij * dO[d];
          dq[d] += ds * k[d];
          dk[d] += ds * q[d];
        }
      }
    }
  }
}

#define BRAID_INSTANTIATE(T)                                                                                    \
  template void attention_forward<T>(T*, T*, const T*, const int32_t*, int, int64_t, int64_t, bool);           \
  template void attention_backward<T>(T*, const T*, const T*, const T*, const T*, const int32_t*, int, int64_t, \
                                      int64_t, bool);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(double)

}  // namespace braid::ops
