#include "common/ops/cuda/norm.h"

#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/cuda/scratch.h"
#include "common/ops/cuda/tile_plan.h"
#include "common/ops/math/norm.h"

namespace braid::ops::cuda {
namespace {

using braid::cuda::FromFloat;
using braid::cuda::GridFor;
using braid::cuda::ToFloat;

// Threads of a row's block: C rounded up to whole warps, within [32, 512].
// Depends on C only, so the reduction order (hence every bit of the
// result) does not depend on the device.
int RowThreads(int64_t C) {
  const int64_t warps = (C + 31) / 32;
  return static_cast<int>(32 * (warps < 1 ? 1 : (warps > 16 ? 16 : warps)));
}

// The sum of `v` over the block (blockDim.x a multiple of 32), returned to
// every thread: butterfly shuffles inside each warp, then every warp reduces
// the warp sums the same way. Butterfly pairs add the same two values in
// either order, so all threads hold the same bits. `scratch` holds 32 floats
// of shared memory; calls may follow each other with the same scratch.
__device__ float BlockSum(float v, float* scratch) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();  // the previous call's readers are done with scratch
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  const unsigned lane = threadIdx.x & 31;
  v = lane < (blockDim.x >> 5) ? scratch[lane] : 0.f;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// One block per row (grid-stride over rows).
// O: the output's storage (T, or bf16 from a float input: the bf16
// activations of the blocks).
template <typename T, typename O = T>
__global__ void RmsNormForwardKernel(O* out, float* rstd, const T* inp, const T* weight, int64_t N, int64_t C,
                                     float eps) {
  __shared__ float scratch[32];
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const T* x = inp + n * C;
    float ss = 0.f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const float v = ToFloat(x[c]);
      ss += v * v;
    }
    ss = BlockSum(ss, scratch);
    const float r = math::NormRstd(ss, static_cast<float>(C), eps);
    if (threadIdx.x == 0) rstd[n] = r;
    O* o = out + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
      o[c] = FromFloat<O>(math::RmsNormOut(ToFloat(x[c]), r, ToFloat(weight[c])));
  }
}

// Two passes over the row, like the CPU: the mean, then the squared
// deviations from it.
template <typename T, typename O = T>
__global__ void LayerNormForwardKernel(O* out, float* mean, float* rstd, const T* inp, const T* weight, const T* bias,
                                       int64_t N, int64_t C, float eps) {
  __shared__ float scratch[32];
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const T* x = inp + n * C;
    float s = 0.f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += ToFloat(x[c]);
    const float m = BlockSum(s, scratch) / static_cast<float>(C);
    float v = 0.f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
      const float d = ToFloat(x[c]) - m;
      v += d * d;
    }
    v = BlockSum(v, scratch);
    const float r = math::NormRstd(v, static_cast<float>(C), eps);
    if (threadIdx.x == 0) {
      mean[n] = m;
      rstd[n] = r;
    }
    O* o = out + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
      o[c] = FromFloat<O>(math::LayerNormOut(ToFloat(x[c]), m, r, ToFloat(weight[c]), ToFloat(bias[c])));
  }
}

template <typename T>
__global__ void RmsNormBackwardKernel(T* dinp, const T* dout, const T* inp, const T* weight, const float* rstd,
                                      int64_t N, int64_t C) {
  __shared__ float scratch[32];
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const T* x = inp + n * C;
    const T* dy = dout + n * C;
    const float r = rstd[n];
    float dot = 0.f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
      dot += math::RmsNormDotTerm(ToFloat(dy[c]), ToFloat(weight[c]), ToFloat(x[c]));
    dot = BlockSum(dot, scratch);
    const float k = math::RmsNormBackwardCoeff(dot, r, static_cast<float>(C));
    T* dx = dinp + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
      dx[c] = FromFloat<T>(ToFloat(dx[c]) + math::RmsNormDx(ToFloat(dy[c]), ToFloat(x[c]), ToFloat(weight[c]), r, k));
  }
}

template <typename T>
__global__ void LayerNormBackwardKernel(T* dinp, const T* dout, const T* inp, const T* weight, const float* mean,
                                        const float* rstd, int64_t N, int64_t C) {
  __shared__ float scratch[32];
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const T* x = inp + n * C;
    const T* dy = dout + n * C;
    const float m = mean[n], r = rstd[n];
    float s1 = 0.f, s2 = 0.f;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
      math::LayerNormDotTerms(ToFloat(dy[c]), ToFloat(weight[c]), ToFloat(x[c]), m, r, &s1, &s2);
    s1 = BlockSum(s1, scratch);
    s2 = BlockSum(s2, scratch);
    const float a = s1 / static_cast<float>(C), b = s2 / static_cast<float>(C);
    T* dx = dinp + n * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
      dx[c] = FromFloat<T>(ToFloat(dx[c]) +
                           math::LayerNormDx(ToFloat(dy[c]), ToFloat(x[c]), ToFloat(weight[c]), m, r, a, b));
  }
}

// Weight (and bias) gradients, pass 1: block (x, y) sums rows of chunk y for
// the kColTile columns of tile x into partial[y * C + c] (dw; db after the
// dw partials when `with_bias`). Inside a block, lane ty sums rows ty, ty +
// kRowLanes, ... in order, and the lanes are added in order: fixed.
constexpr int kColTile = 32;
constexpr int kRowLanes = 8;
// The chunks of rows (gridDim.y) are tile_plan.h's NormRowsPerChunk / NormChunks.

template <typename T, bool kWithBias>
__global__ void NormParamGradPartialKernel(float* partial, const T* dout, const T* inp, const float* mean,
                                           const float* rstd, int64_t N, int64_t C, int64_t rows_per_chunk) {
  __shared__ float sw[kRowLanes][kColTile];
  __shared__ float sb[kRowLanes][kColTile];
  const int64_t c = int64_t{blockIdx.x} * kColTile + threadIdx.x;
  const int64_t chunk = blockIdx.y;
  const int64_t r0 = chunk * rows_per_chunk;
  const int64_t r1 = r0 + rows_per_chunk < N ? r0 + rows_per_chunk : N;
  float aw = 0.f, ab = 0.f;
  if (c < C) {
    for (int64_t n = r0 + threadIdx.y; n < r1; n += kRowLanes) {
      const float dy = ToFloat(dout[n * C + c]), x = ToFloat(inp[n * C + c]);
      if constexpr (kWithBias) {
        aw += math::LayerNormDw(dy, x, mean[n], rstd[n]);
        ab += dy;
      } else {
        aw += math::RmsNormDw(dy, x, rstd[n]);
      }
    }
  }
  sw[threadIdx.y][threadIdx.x] = aw;
  sb[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    float w = 0.f, b = 0.f;
    for (int l = 0; l < kRowLanes; ++l) {
      w += sw[l][threadIdx.x];
      b += sb[l][threadIdx.x];
    }
    partial[chunk * C + c] = w;
    if constexpr (kWithBias) partial[(gridDim.y + chunk) * C + c] = b;
  }
}

// Pass 2: grad[c] += sum of the chunks' partials, in chunk order.
template <typename T>
__global__ void NormParamGradFinishKernel(T* grad, const float* partial, int64_t chunks, int64_t C) {
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < C; c += int64_t{gridDim.x} * blockDim.x) {
    float s = 0.f;
    for (int64_t k = 0; k < chunks; ++k) s += partial[k * C + c];
    grad[c] = FromFloat<T>(ToFloat(grad[c]) + s);
  }
}

// dweight (and dbias when non-null) += the rows' contributions,
// deterministically; the partials live in stream-ordered scratch.
template <typename T>
void NormParamGrad(T* dweight, T* dbias, const T* dout, const T* inp, const float* mean, const float* rstd, int64_t N,
                   int64_t C) {
  cudaStream_t stream = braid::cuda::CurrentStream();
  const int64_t rows_per_chunk = NormRowsPerChunk(N);
  const int64_t chunks = NormChunks(N);
  const bool with_bias = dbias != nullptr;
  const size_t bytes = sizeof(float) * static_cast<size_t>(chunks * C * (with_bias ? 2 : 1));
  const braid::cuda::Scratch scratch(bytes, "cudaMallocAsync(norm partials)");
  if (!scratch.ok()) return;
  float* partial = scratch.at<float>();
  const dim3 grid(static_cast<unsigned>((C + kColTile - 1) / kColTile), static_cast<unsigned>(chunks));
  const dim3 block(kColTile, kRowLanes);
  if (with_bias) {
    NormParamGradPartialKernel<T, true>
        <<<grid, block, 0, stream>>>(partial, dout, inp, mean, rstd, N, C, rows_per_chunk);
    BRAID_CUDA_CHECK_LAUNCH("NormParamGradPartialKernel<bias>");
  } else {
    NormParamGradPartialKernel<T, false>
        <<<grid, block, 0, stream>>>(partial, dout, inp, mean, rstd, N, C, rows_per_chunk);
    BRAID_CUDA_CHECK_LAUNCH("NormParamGradPartialKernel");
  }
  constexpr int kThreads = 256;
  NormParamGradFinishKernel<T><<<GridFor(C, kThreads), kThreads, 0, stream>>>(dweight, partial, chunks, C);
  BRAID_CUDA_CHECK_LAUNCH("NormParamGradFinishKernel");
  if (with_bias) {
    NormParamGradFinishKernel<T><<<GridFor(C, kThreads), kThreads, 0, stream>>>(dbias, partial + chunks * C, chunks, C);
    BRAID_CUDA_CHECK_LAUNCH("NormParamGradFinishKernel<bias>");
  }
}

}  // namespace

template <typename T>
void rmsnorm_forward(T* out, float* rstd, const T* inp, const T* weight, int64_t N, int64_t C, float eps) {
  if (N <= 0 || C <= 0) return;
  const int threads = RowThreads(C);
  RmsNormForwardKernel<T>
      <<<GridFor(N, 1), threads, 0, braid::cuda::CurrentStream()>>>(out, rstd, inp, weight, N, C, eps);
  BRAID_CUDA_CHECK_LAUNCH("RmsNormForwardKernel");
}

template <typename T>
void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, const float* rstd, int64_t N,
                      int64_t C) {
  if (N <= 0 || C <= 0) return;
  const int threads = RowThreads(C);
  RmsNormBackwardKernel<T>
      <<<GridFor(N, 1), threads, 0, braid::cuda::CurrentStream()>>>(dinp, dout, inp, weight, rstd, N, C);
  BRAID_CUDA_CHECK_LAUNCH("RmsNormBackwardKernel");
  NormParamGrad<T>(dweight, nullptr, dout, inp, nullptr, rstd, N, C);
}

template <typename T>
void layernorm_forward(T* out, float* mean, float* rstd, const T* inp, const T* weight, const T* bias, int64_t N,
                       int64_t C, float eps) {
  if (N <= 0 || C <= 0) return;
  const int threads = RowThreads(C);
  LayerNormForwardKernel<T>
      <<<GridFor(N, 1), threads, 0, braid::cuda::CurrentStream()>>>(out, mean, rstd, inp, weight, bias, N, C, eps);
  BRAID_CUDA_CHECK_LAUNCH("LayerNormForwardKernel");
}

template <typename T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, const float* mean,
                        const float* rstd, int64_t N, int64_t C) {
  if (N <= 0 || C <= 0) return;
  const int threads = RowThreads(C);
  LayerNormBackwardKernel<T>
      <<<GridFor(N, 1), threads, 0, braid::cuda::CurrentStream()>>>(dinp, dout, inp, weight, mean, rstd, N, C);
  BRAID_CUDA_CHECK_LAUNCH("LayerNormBackwardKernel");
  NormParamGrad<T>(dweight, dbias, dout, inp, mean, rstd, N, C);
}

void rmsnorm_forward_to_bf16(braid::cuda::bf16* out, float* rstd, const float* inp, const float* weight, int64_t N,
                             int64_t C, float eps) {
  if (N <= 0 || C <= 0) return;
  RmsNormForwardKernel<float, braid::cuda::bf16>
      <<<GridFor(N, 1), RowThreads(C), 0, braid::cuda::CurrentStream()>>>(out, rstd, inp, weight, N, C, eps);
  BRAID_CUDA_CHECK_LAUNCH("RmsNormForwardKernel<float, bf16>");
}

void layernorm_forward_to_bf16(braid::cuda::bf16* out, float* mean, float* rstd, const float* inp,
                               const float* weight, const float* bias, int64_t N, int64_t C, float eps) {
  if (N <= 0 || C <= 0) return;
  LayerNormForwardKernel<float, braid::cuda::bf16>
      <<<GridFor(N, 1), RowThreads(C), 0, braid::cuda::CurrentStream()>>>(out, mean, rstd, inp, weight, bias, N, C,
                                                                          eps);
  BRAID_CUDA_CHECK_LAUNCH("LayerNormForwardKernel<float, bf16>");
}

#define BRAID_INSTANTIATE(T)                                                                                        \
  template void rmsnorm_forward<T>(T*, float*, const T*, const T*, int64_t, int64_t, float);                       \
  template void rmsnorm_backward<T>(T*, T*, const T*, const T*, const T*, const float*, int64_t, int64_t);         \
  template void layernorm_forward<T>(T*, float*, float*, const T*, const T*, const T*, int64_t, int64_t, float);   \
  template void layernorm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const float*, const float*, int64_t, \
                                      int64_t);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(braid::cuda::bf16)
#undef BRAID_INSTANTIATE

}  // namespace braid::ops::cuda
