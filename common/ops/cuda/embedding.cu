#include "common/ops/cuda/embedding.h"

#include <cub/device/device_radix_sort.cuh>

#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/cuda/scratch.h"

namespace braid::ops::cuda {
namespace {

using braid::cuda::FromFloat;
using braid::cuda::GridFor;
using braid::cuda::ToFloat;

constexpr int kThreads = 256;

template <typename T>
__global__ void EmbeddingForwardKernel(T* out, const int32_t* ids, const T* table, int64_t N, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < N * C; i += int64_t{gridDim.x} * blockDim.x)
    out[i] = table[int64_t{ids[i / C]} * C + i % C];
}

// Vocabulary-parallel: rows of the ids this rank holds, zero for the others.
template <typename T>
__global__ void VocabEmbeddingForwardKernel(T* out, const int32_t* ids, const T* table_local, int64_t v_begin,
                                            int64_t v_end, int64_t N, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < N * C; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t id = ids[i / C];
    out[i] = id >= v_begin && id < v_end ? table_local[(id - v_begin) * C + i % C] : FromFloat<T>(0.f);
  }
}

// local[n] = ids[n] - v_begin for the ids this rank holds, -1 for the others.
__global__ void LocalIdsKernel(int32_t* local, const int32_t* ids, int64_t v_begin, int64_t v_end, int64_t N) {
  for (int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; n < N; n += int64_t{gridDim.x} * blockDim.x) {
    const int64_t id = ids[n];
    local[n] = id >= v_begin && id < v_end ? static_cast<int32_t>(id - v_begin) : -1;
  }
}

template <typename T>
__global__ void AddPositionsForwardKernel(T* out, const int32_t* pos, const T* table, int64_t N, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < N * C; i += int64_t{gridDim.x} * blockDim.x)
    out[i] = FromFloat<T>(ToFloat(out[i]) + ToFloat(table[int64_t{pos[i / C]} * C + i % C]));
}

__global__ void IotaKernel(int32_t* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    out[i] = static_cast<int32_t>(i);
}

// `sorted` holds the ids in ascending order, `order` the row of each (rows
// of equal id in ascending order: the sort is stable). The thread of
// (k, c) where k starts a run of equal ids sums column c of the run's rows,
// in row order, onto dtable[id][c]; the other threads have nothing to do.
template <typename T>
__global__ void EmbeddingBackwardKernel(T* dtable, const T* dout, const int32_t* sorted, const int32_t* order,
                                        int64_t N, int64_t C) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < N * C; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t k = i / C, c = i % C;
    const int32_t id = sorted[k];
    if (id < 0 || (k > 0 && sorted[k - 1] == id)) continue;  // id < 0: a row this rank does not hold
    T* d = dtable + int64_t{id} * C + c;
    float acc = ToFloat(*d);
    for (int64_t j = k; j < N && sorted[j] == id; ++j) acc += ToFloat(dout[int64_t{order[j]} * C + c]);
    *d = FromFloat<T>(acc);
  }
}

// Records a failed call (check.h); true when `e` is success.
bool Succeeded(cudaError_t e, const char* call, int line) {
  if (e == cudaSuccess) return true;
  braid::cuda::RecordError(braid::cuda::CudaError(e, call, __FILE__, line));
  return false;
}

// The launch just made: recorded when it failed (BRAID_CUDA_CHECK_LAUNCH's
// message); true when it succeeded.
bool Launched(const char* name, int line) { return Succeeded(cudaGetLastError(), name, line); }

template <typename T>
void EmbeddingBackward(T* dtable, const T* dout, const int32_t* ids, int64_t N, int64_t C) {
  if (N <= 0 || C <= 0) return;
  cudaStream_t stream = braid::cuda::CurrentStream();
  size_t sort_bytes = 0;
  if (!Succeeded(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, ids, static_cast<int32_t*>(nullptr),
                                                 static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr),
                                                 N, 0, 32, stream),
                 "cub::DeviceRadixSort::SortPairs(size query)", __LINE__))
    return;
  // Scratch: sorted ids, rows in order, rows sorted (N each), then CUB's
  // temporary storage at a 256-byte boundary.
  const size_t index_bytes = braid::cuda::AlignedBytes(3 * sizeof(int32_t) * static_cast<size_t>(N));
  const braid::cuda::Scratch scratch(index_bytes + sort_bytes, "cudaMallocAsync(embedding sort scratch)");
  if (!scratch.ok()) return;
  int32_t* sorted = scratch.at<int32_t>();
  int32_t* rows = sorted + N;
  int32_t* rows_sorted = rows + N;
  IotaKernel<<<GridFor(N, kThreads), kThreads, 0, stream>>>(rows, N);
  // The accumulation runs only on a completed sort (otherwise its indices
  // would be garbage).
  if (Launched("launch IotaKernel", __LINE__) &&
      Succeeded(cub::DeviceRadixSort::SortPairs(scratch.at<char>(index_bytes), sort_bytes, ids, sorted,
                                                rows, rows_sorted, N, 0, 32, stream),
                "cub::DeviceRadixSort::SortPairs", __LINE__)) {
    EmbeddingBackwardKernel<T>
        <<<GridFor(N * C, kThreads), kThreads, 0, stream>>>(dtable, dout, sorted, rows_sorted, N, C);
    BRAID_CUDA_CHECK_LAUNCH("EmbeddingBackwardKernel");
  }
}

}  // namespace

template <typename T>
void embedding_forward(T* out, const int32_t* ids, const T* table, int64_t N, int64_t C) {
  if (N <= 0 || C <= 0) return;
  EmbeddingForwardKernel<T>
      <<<GridFor(N * C, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(out, ids, table, N, C);
  BRAID_CUDA_CHECK_LAUNCH("EmbeddingForwardKernel");
}

template <typename T>
void embedding_backward(T* dtable, const T* dout, const int32_t* ids, int64_t N, int64_t C) {
  EmbeddingBackward(dtable, dout, ids, N, C);
}

template <typename T>
void vocab_embedding_forward(T* out, const int32_t* ids, const T* table_local, int64_t v_begin, int64_t v_end,
                             int64_t N, int64_t C) {
  if (N <= 0 || C <= 0) return;
  VocabEmbeddingForwardKernel<T><<<GridFor(N * C, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(
      out, ids, table_local, v_begin, v_end, N, C);
  BRAID_CUDA_CHECK_LAUNCH("VocabEmbeddingForwardKernel");
}

template <typename T>
void vocab_embedding_backward(T* dtable_local, const T* dout, const int32_t* ids, int64_t v_begin, int64_t v_end,
                              int64_t N, int64_t C) {
  if (N <= 0 || C <= 0) return;
  const braid::cuda::Scratch local(static_cast<size_t>(N) * sizeof(int32_t), "cudaMallocAsync(vocab local ids)");
  if (!local.ok()) return;
  LocalIdsKernel<<<GridFor(N, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(local.at<int32_t>(), ids,
                                                                                       v_begin, v_end, N);
  if (Launched("launch LocalIdsKernel", __LINE__)) EmbeddingBackward(dtable_local, dout, local.at<int32_t>(), N, C);
}

template <typename T>
void add_positions_forward(T* out, const int32_t* pos, const T* table, int64_t N, int64_t C) {
  if (N <= 0 || C <= 0) return;
  AddPositionsForwardKernel<T>
      <<<GridFor(N * C, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(out, pos, table, N, C);
  BRAID_CUDA_CHECK_LAUNCH("AddPositionsForwardKernel");
}

template <typename T>
void add_positions_backward(T* dtable, const T* dout, const int32_t* pos, int64_t N, int64_t C) {
  EmbeddingBackward(dtable, dout, pos, N, C);
}

#define BRAID_INSTANTIATE(T)                                                               \
  template void embedding_forward<T>(T*, const int32_t*, const T*, int64_t, int64_t);     \
  template void embedding_backward<T>(T*, const T*, const int32_t*, int64_t, int64_t);    \
  template void add_positions_forward<T>(T*, const int32_t*, const T*, int64_t, int64_t); \
  template void add_positions_backward<T>(T*, const T*, const int32_t*, int64_t, int64_t);             \
  template void vocab_embedding_forward<T>(T*, const int32_t*, const T*, int64_t, int64_t, int64_t, int64_t); \
  template void vocab_embedding_backward<T>(T*, const T*, const int32_t*, int64_t, int64_t, int64_t, int64_t);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(braid::cuda::bf16)
#undef BRAID_INSTANTIATE

}  // namespace braid::ops::cuda
