#include "common/ops/cuda/loss.h"

#include "common/ops/cuda/block_reduce.h"
#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/math/loss.h"

namespace braid::ops::cuda {
namespace {

using braid::cuda::BlockAllReduce;
using braid::cuda::FromFloat;
using braid::cuda::GridFor;
using braid::cuda::kSumPartials;
using braid::cuda::kSumThreads;
using braid::cuda::MaxOp;
using braid::cuda::SumOp;
using braid::cuda::ToFloat;
using math::SoftmaxState;

constexpr int kMaxRowThreads = 1024;
constexpr int kTotalThreads = 1024;
constexpr int kThreads = 256;

// Threads per row block: enough to keep a row's loads wide, few for small V.
int RowThreads(int64_t V) { return V < 2048 ? 128 : kMaxRowThreads; }
// Row blocks: one per row, capped (a row loop does the rest).
unsigned RowBlocks(int64_t N) { return static_cast<unsigned>(N < 65535 ? (N < 1 ? 1 : N) : 65535); }

struct SoftmaxMergeOp {
  __device__ SoftmaxState<float> operator()(SoftmaxState<float> a, SoftmaxState<float> b) const {
    return math::SoftmaxMerge(a, b);
  }
};

// The softmax state (max, sum of exp) of row x over the block; every thread
// gets it.
template <typename T>
__device__ SoftmaxState<float> RowSoftmax(const T* x, int64_t V) {
  SoftmaxState<float> s = math::SoftmaxEmpty<float>();
  for (int64_t v = threadIdx.x; v < V; v += blockDim.x) s = math::CrossEntropyPush(s, ToFloat(x[v]));
  return BlockAllReduce(s, SoftmaxMergeOp{}, math::SoftmaxEmpty<float>());
}

template <typename T>
__global__ void __launch_bounds__(kMaxRowThreads)
    CrossEntropyForwardKernel(float* losses, const T* logits, const int32_t* targets, int64_t N, int64_t V) {
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const int64_t t = targets[n];
    if (t < 0) {  // the whole block skips the row
      if (threadIdx.x == 0) losses[n] = 0.f;
      continue;
    }
    const T* x = logits + n * V;
    const SoftmaxState<float> s = RowSoftmax(x, V);
    if (threadIdx.x == 0) losses[n] = t < V ? math::CrossEntropyRowLoss(s.max, s.sum, ToFloat(x[t])) : NAN;
  }
}

template <typename T>
__global__ void __launch_bounds__(kMaxRowThreads) CrossEntropyBackwardKernel(T* dlogits, const T* logits,
                                                                             const int32_t* targets, int64_t N,
                                                                             int64_t V, float scale) {
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const int64_t t = targets[n];
    if (t < 0) continue;
    const T* x = logits + n * V;
    T* d = dlogits + n * V;
    const SoftmaxState<float> s = RowSoftmax(x, V);
    const float inv = 1.f / s.sum;
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x)
      d[v] = FromFloat<T>(math::CrossEntropyGrad(ToFloat(d[v]), ToFloat(x[v]), s.max, inv, scale, v == t));
  }
}

// One block: *loss_sum = the sum of losses (double, fixed order), *count =
// the rows with a target.
__global__ void __launch_bounds__(kTotalThreads)
    LossTotalKernel(double* loss_sum, int64_t* count, const float* losses, const int32_t* targets, int64_t N) {
  double s = 0;
  long long c = 0;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) {
    if (targets[n] < 0) continue;
    s += losses[n];
    ++c;
  }
  s = BlockAllReduce(s, SumOp{}, 0.0);
  c = BlockAllReduce(c, SumOp{}, 0LL);
  if (threadIdx.x == 0) {
    *loss_sum = s;
    *count = c;
  }
}

template <typename T>
__global__ void __launch_bounds__(kSumThreads)
    MsePartialsKernel(double* partials, const T* pred, const T* target, int64_t n) {
  double s = 0;
  for (int64_t i = blockIdx.x * int64_t{kSumThreads} + threadIdx.x; i < n; i += int64_t{gridDim.x} * kSumThreads)
    s += math::SquaredError(double(ToFloat(pred[i])), double(ToFloat(target[i])));
  s = BlockAllReduce(s, SumOp{}, 0.0);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

// One block per row: row_sse[r] = the row's squared-error sum (double).
template <typename T>
__global__ void __launch_bounds__(kSumThreads)
    MseRowsKernel(double* row_sse, const T* pred, const T* target, int64_t rows, int64_t cols) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* p = pred + r * cols;
    const T* q = target + r * cols;
    double s = 0;
    for (int64_t i = threadIdx.x; i < cols; i += kSumThreads)
      s += math::SquaredError(double(ToFloat(p[i])), double(ToFloat(q[i])));
    s = BlockAllReduce(s, SumOp{}, 0.0);
    if (threadIdx.x == 0) row_sse[r] = s;
  }
}

// One thread, rows in order (as the CPU): *sum += (sum_r row_sse[r] / cols) / divisor.
__global__ void MseRowsTotalKernel(double* sum, const double* row_sse, int64_t rows, double cols, double divisor) {
  double t = 0;
  for (int64_t r = 0; r < rows; ++r) t += row_sse[r] / cols;
  *sum += t / divisor;
}

__global__ void AddScalarKernel(double* acc, const double* x) { *acc += *x; }

template <typename T>
__global__ void MseBackwardKernel(T* dpred, const T* pred, const T* target, int64_t n, float scale) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    dpred[i] = FromFloat<T>(ToFloat(dpred[i]) + math::SquaredErrorGrad(ToFloat(pred[i]), ToFloat(target[i]), scale));
}

template <typename T>
__global__ void __launch_bounds__(kMaxRowThreads)
    VocabParallelRowMaxKernel(float* maxima, const T* logits, int64_t N, int64_t Vl, int ranks, int rank) {
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const T* l = logits + n * Vl;
    float m = math::NegInf<float>();
    for (int64_t j = threadIdx.x; j < Vl; j += blockDim.x) m = fmaxf(m, ToFloat(l[j]));
    m = BlockAllReduce(m, MaxOp{}, math::NegInf<float>());
    for (int c = threadIdx.x; c < ranks; c += blockDim.x) maxima[n * ranks + c] = c == rank ? m : 0.f;
  }
}

template <typename T>
__global__ void __launch_bounds__(kMaxRowThreads)
    VocabParallelExpSumsKernel(float* row_max, float* sums, const float* maxima, const T* logits,
                               const int32_t* targets, int64_t v_begin, int64_t v_end, int64_t N, int ranks) {
  const int64_t Vl = v_end - v_begin;
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    float m = maxima[n * ranks];
    for (int c = 1; c < ranks; ++c) m = fmaxf(m, maxima[n * ranks + c]);
    const T* l = logits + n * Vl;
    float s = 0.f;
    for (int64_t j = threadIdx.x; j < Vl; j += blockDim.x) s += math::SoftmaxScale(ToFloat(l[j]), m);
    s = BlockAllReduce(s, SumOp{}, 0.f);
    if (threadIdx.x == 0) {
      const int64_t t = targets[n];
      row_max[n] = m;
      sums[2 * n] = s;
      sums[2 * n + 1] = t >= v_begin && t < v_end ? ToFloat(l[t - v_begin]) : 0.f;
    }
  }
}

__global__ void VocabParallelLossKernel(float* losses, float* row_sum, const float* row_max, const float* sums,
                                        const int32_t* targets, int64_t N) {
  for (int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; n < N; n += int64_t{gridDim.x} * blockDim.x) {
    row_sum[n] = sums[2 * n];
    losses[n] = targets[n] < 0 ? 0.f : math::CrossEntropyRowLoss(row_max[n], sums[2 * n], sums[2 * n + 1]);
  }
}

template <typename T>
__global__ void __launch_bounds__(kMaxRowThreads)
    VocabParallelBackwardKernel(T* dlogits, const T* logits, const int32_t* targets, int64_t v_begin, int64_t v_end,
                                int64_t N, const float* row_max, const float* row_sum, float scale) {
  const int64_t Vl = v_end - v_begin;
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const int64_t t = targets[n];
    if (t < 0) continue;
    const float m = row_max[n], inv = 1.f / row_sum[n];
    const T* l = logits + n * Vl;
    T* d = dlogits + n * Vl;
    // t - v_begin is a column of this rank only when the target is in range.
    for (int64_t j = threadIdx.x; j < Vl; j += blockDim.x)
      d[j] = FromFloat<T>(math::CrossEntropyGrad(ToFloat(d[j]), ToFloat(l[j]), m, inv, scale, j == t - v_begin));
  }
}

void LaunchLossTotal(double* loss_sum, int64_t* count, const float* losses, const int32_t* targets, int64_t N) {
  LossTotalKernel<<<1, kTotalThreads, 0, braid::cuda::CurrentStream()>>>(loss_sum, count, losses, targets, N);
  BRAID_CUDA_CHECK_LAUNCH("LossTotalKernel");
}

}  // namespace

template <typename T>
void cross_entropy_forward(float* losses, double* loss_sum, int64_t* count, const T* logits, const int32_t* targets,
                           int64_t N, int64_t V) {
  if (N > 0) {
    CrossEntropyForwardKernel<<<RowBlocks(N), RowThreads(V), 0, braid::cuda::CurrentStream()>>>(losses, logits,
                                                                                                 targets, N, V);
    BRAID_CUDA_CHECK_LAUNCH("CrossEntropyForwardKernel");
  }
  LaunchLossTotal(loss_sum, count, losses, targets, N);
}

template <typename T>
void cross_entropy_backward(T* dlogits, const T* logits, const int32_t* targets, int64_t N, int64_t V, float scale) {
  if (N <= 0 || V <= 0) return;
  CrossEntropyBackwardKernel<<<RowBlocks(N), RowThreads(V), 0, braid::cuda::CurrentStream()>>>(dlogits, logits,
                                                                                                targets, N, V, scale);
  BRAID_CUDA_CHECK_LAUNCH("CrossEntropyBackwardKernel");
}

template <typename T>
void mse_forward(double* sum, const T* pred, const T* target, int64_t n, double* scratch) {
  const int blocks = braid::cuda::SumBlocks(n);
  MsePartialsKernel<<<blocks, kSumThreads, 0, braid::cuda::CurrentStream()>>>(scratch, pred, target, n);
  BRAID_CUDA_CHECK_LAUNCH("MsePartialsKernel");
  braid::cuda::FinishSumKernel<<<1, kSumThreads, 0, braid::cuda::CurrentStream()>>>(sum, scratch, blocks, false);
  BRAID_CUDA_CHECK_LAUNCH("FinishSumKernel");
}

template <typename T>
void mse_rows_forward(double* sum, const T* pred, const T* target, int64_t rows, int64_t cols, double divisor,
                      double* row_sse) {
  if (rows <= 0) return;
  MseRowsKernel<<<RowBlocks(rows), kSumThreads, 0, braid::cuda::CurrentStream()>>>(row_sse, pred, target, rows, cols);
  BRAID_CUDA_CHECK_LAUNCH("MseRowsKernel");
  MseRowsTotalKernel<<<1, 1, 0, braid::cuda::CurrentStream()>>>(sum, row_sse, rows, double(cols), divisor);
  BRAID_CUDA_CHECK_LAUNCH("MseRowsTotalKernel");
}

void add_scalar(double* acc, const double* x) {
  AddScalarKernel<<<1, 1, 0, braid::cuda::CurrentStream()>>>(acc, x);
  BRAID_CUDA_CHECK_LAUNCH("AddScalarKernel");
}

template <typename T>
void mse_backward(T* dpred, const T* pred, const T* target, int64_t n, float scale) {
  if (n <= 0) return;
  MseBackwardKernel<<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(dpred, pred, target, n,
                                                                                          scale);
  BRAID_CUDA_CHECK_LAUNCH("MseBackwardKernel");
}

template <typename T>
void vocab_parallel_row_max(float* maxima, const T* logits_local, int64_t N, int64_t Vl, int ranks, int rank) {
  if (N <= 0) return;
  VocabParallelRowMaxKernel<<<RowBlocks(N), RowThreads(Vl), 0, braid::cuda::CurrentStream()>>>(
      maxima, logits_local, N, Vl, ranks, rank);
  BRAID_CUDA_CHECK_LAUNCH("VocabParallelRowMaxKernel");
}

template <typename T>
void vocab_parallel_exp_sums(float* row_max, float* sums, const float* maxima, const T* logits_local,
                             const int32_t* targets, int64_t v_begin, int64_t v_end, int64_t N, int ranks) {
  if (N <= 0) return;
  VocabParallelExpSumsKernel<<<RowBlocks(N), RowThreads(v_end - v_begin), 0, braid::cuda::CurrentStream()>>>(
      row_max, sums, maxima, logits_local, targets, v_begin, v_end, N, ranks);
  BRAID_CUDA_CHECK_LAUNCH("VocabParallelExpSumsKernel");
}

void vocab_parallel_loss(float* losses, float* row_sum, double* loss_sum, int64_t* count, const float* row_max,
                         const float* sums, const int32_t* targets, int64_t N) {
  if (N > 0) {
    VocabParallelLossKernel<<<GridFor(N, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(
        losses, row_sum, row_max, sums, targets, N);
    BRAID_CUDA_CHECK_LAUNCH("VocabParallelLossKernel");
  }
  LaunchLossTotal(loss_sum, count, losses, targets, N);
}

template <typename T>
void vocab_parallel_cross_entropy_backward(T* dlogits_local, const T* logits_local, const int32_t* targets,
                                           int64_t v_begin, int64_t v_end, int64_t N, const float* row_max,
                                           const float* row_sum, float scale) {
  if (N <= 0 || v_end <= v_begin) return;
  VocabParallelBackwardKernel<<<RowBlocks(N), RowThreads(v_end - v_begin), 0, braid::cuda::CurrentStream()>>>(
      dlogits_local, logits_local, targets, v_begin, v_end, N, row_max, row_sum, scale);
  BRAID_CUDA_CHECK_LAUNCH("VocabParallelBackwardKernel");
}

#define BRAID_INSTANTIATE(T)                                                                                   \
  template void cross_entropy_forward<T>(float*, double*, int64_t*, const T*, const int32_t*, int64_t, int64_t); \
  template void cross_entropy_backward<T>(T*, const T*, const int32_t*, int64_t, int64_t, float);              \
  template void mse_forward<T>(double*, const T*, const T*, int64_t, double*);                                 \
  template void mse_rows_forward<T>(double*, const T*, const T*, int64_t, int64_t, double, double*);           \
  template void mse_backward<T>(T*, const T*, const T*, int64_t, float);                                       \
  template void vocab_parallel_row_max<T>(float*, const T*, int64_t, int64_t, int, int);                       \
  template void vocab_parallel_exp_sums<T>(float*, float*, const float*, const T*, const int32_t*, int64_t,    \
                                           int64_t, int64_t, int);                                             \
  template void vocab_parallel_cross_entropy_backward<T>(T*, const T*, const int32_t*, int64_t, int64_t,       \
                                                         int64_t, const float*, const float*, float);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(braid::cuda::bf16)

}  // namespace braid::ops::cuda
