#include <string>

#include "common/ops/cuda/attention.h"
#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/cuda/scratch.h"
#include "common/ops/cuda/tile_plan.h"
#include "common/ops/math/softmax.h"

namespace braid::ops::cuda {
namespace {

using braid::cuda::FromFloat;
using braid::cuda::ToFloat;

// Thread layout shared by the kernels: a block owns `rows` rows (queries or
// keys) of one (sequence, head); each row is served by a group of
// G = HD / kDimsPerThread adjacent lanes, lane g holding the dims
// g, g + G, g + 2G, ... in registers (so a group reads a shared-memory row
// as consecutive words: no bank conflicts, and the other groups of the warp
// read the same words: broadcast). Dot products are a partial sum per lane
// and a butterfly over the group, which leaves the same bits in every lane.
constexpr int kDimsPerThread = 16;
constexpr int kFwdRows = kAttnFwdRows;  // tile sizes: tile_plan.h (CPU-tested coverage)
constexpr int kFwdKeys = kAttnFwdKeys;
constexpr int kDqRows = kAttnDqRows;
constexpr int kKvKeys = kAttnKvKeys;
constexpr int kKvRows = kAttnKvRows;
constexpr int kDThreads = 256;

template <int HD>
constexpr int GroupOf() {
  return HD / kDimsPerThread;
}

template <int G>
__device__ __forceinline__ float GroupSum(float v) {
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Where a block is: blockIdx.x = sequence * tiles_per_seq + tile, blockIdx.y = head.
struct TileAt {
  int seq;
  int tile;
  int64_t begin;  // first packed row of the sequence
  int len;        // its length
};

// A sequence longer than max_seqlen (a caller's bug) is cut to max_seqlen
// rows, so that no kernel touches memory outside its sequence or the
// (num_seqs, max_seqlen) scratch.
__device__ __forceinline__ TileAt LocateTile(const int32_t* cu_seqlens, int tiles_per_seq, int max_seqlen) {
  TileAt t;
  t.seq = static_cast<int>(blockIdx.x / tiles_per_seq);
  t.tile = static_cast<int>(blockIdx.x % tiles_per_seq);
  t.begin = cu_seqlens[t.seq];
  t.len = min(static_cast<int>(cu_seqlens[t.seq + 1] - t.begin), max_seqlen);
  return t;
}

// Loads rows first .. first + N - 1 of a sequence (row r at src + r * stride,
// HD elements) into shared memory as float; rows at or past `len` become
// zeros.
template <typename T, int HD, int N>
__device__ __forceinline__ void LoadTile(float (*dst)[HD], const T* src, int64_t stride, int first, int len) {
  for (int e = threadIdx.x; e < N * HD; e += blockDim.x) {
    const int r = e / HD, d = e % HD;
    dst[r][d] = first + r < len ? ToFloat(src[static_cast<int64_t>(first + r) * stride + d]) : 0.f;
  }
}

template <typename T, int HD>
__global__ void __launch_bounds__(kFwdRows * GroupOf<HD>())
    AttentionForwardKernel(T* out, float* lse, const T* qkv, const int32_t* cu_seqlens, int tiles_per_seq,
                           int max_seqlen, int64_t NH, bool causal, float scale) {
  constexpr int G = GroupOf<HD>();
  const TileAt t = LocateTile(cu_seqlens, tiles_per_seq, max_seqlen);
  const int q0 = t.tile * kFwdRows;
  if (q0 >= t.len) return;  // the whole block: tile past the sequence end
  const int64_t h = blockIdx.y, C = NH * HD, C3 = 3 * C;
  const int r = threadIdx.x / G, g = threadIdx.x % G, i = q0 + r;
  const bool valid = i < t.len;
  const T* base = qkv + t.begin * C3 + h * HD;  // row 0 of this sequence's q, head h

  float q[kDimsPerThread], acc[kDimsPerThread];
#pragma unroll
  for (int d = 0; d < kDimsPerThread; ++d) {
    q[d] = valid ? ToFloat(base[i * C3 + d * G + g]) : 0.f;
    acc[d] = 0.f;
  }
  __shared__ float Ks[kFwdKeys][HD];
  __shared__ float Vs[kFwdKeys][HD];
  math::SoftmaxState<float> st = math::SoftmaxEmpty<float>();
  const int kend = AttnKeyEnd(causal, t.len, q0, kFwdRows);
  for (int k0 = 0; k0 < kend; k0 += kFwdKeys) {
    __syncthreads();  // the previous tile is consumed
    LoadTile<T, HD, kFwdKeys>(Ks, base + C, C3, k0, t.len);
    LoadTile<T, HD, kFwdKeys>(Vs, base + 2 * C, C3, k0, t.len);
    __syncthreads();
    float s[kFwdKeys];
    float tile_max = math::NegInf<float>();
#pragma unroll
    for (int j = 0; j < kFwdKeys; ++j) {
      float dot = 0.f;
#pragma unroll
      for (int d = 0; d < kDimsPerThread; ++d) dot += q[d] * Ks[j][d * G + g];
      dot = GroupSum<G>(dot);
      const int kj = k0 + j;
      s[j] = AttnVisible(causal, t.len, i, kj) ? scale * dot : math::NegInf<float>();
      tile_max = fmaxf(tile_max, s[j]);
    }
    const float m = fmaxf(st.max, tile_max);
    const float alpha = math::SoftmaxScale(st.max, m);
    float sum = 0.f;
#pragma unroll
    for (int d = 0; d < kDimsPerThread; ++d) acc[d] *= alpha;
#pragma unroll
    for (int j = 0; j < kFwdKeys; ++j) {
      const float p = math::SoftmaxScale(s[j], m);
      sum += p;
#pragma unroll
      for (int d = 0; d < kDimsPerThread; ++d) acc[d] += p * Vs[j][d * G + g];
    }
    st = {m, st.sum * alpha + sum};
  }
  if (!valid) return;
  const float inv = 1.f / st.sum;
  T* o = out + (t.begin + i) * C + h * HD;
#pragma unroll
  for (int d = 0; d < kDimsPerThread; ++d) o[d * G + g] = FromFloat<T>(acc[d] * inv);
  if (g == 0) lse[(t.begin + i) * NH + h] = math::SoftmaxLse(st);
}

// D[(seq * max_seqlen + i) * NH + h] = dO_i . O_i for head h: one warp per
// (row, head).
template <typename T>
__global__ void AttentionRowDotKernel(float* D, const T* dout, const T* out, const int32_t* cu_seqlens,
                                      int blocks_per_seq, int max_seqlen, int64_t NH, int64_t HD) {
  const int seq = static_cast<int>(blockIdx.x / blocks_per_seq);
  const RowHead rh = AttnRowDotPair(blockIdx.x % blocks_per_seq, static_cast<int>(threadIdx.x / 32), kDThreads / 32, NH);
  const int64_t i = rh.row, h = rh.head;
  const int64_t begin = cu_seqlens[seq];
  if (i >= max_seqlen || i >= cu_seqlens[seq + 1] - begin) return;  // the whole warp
  const int lane = threadIdx.x % 32;
  const int64_t off = (begin + i) * NH * HD + h * HD;
  float sum = 0.f;
  for (int64_t d = lane; d < HD; d += 32) sum += ToFloat(dout[off + d]) * ToFloat(out[off + d]);
  sum = GroupSum<32>(sum);
  if (lane == 0) D[(static_cast<int64_t>(seq) * max_seqlen + i) * NH + h] = sum;
}

// dQ_i += sum_j dS_ij K_j over the key tiles, dS_ij = P_ij (dO_i . V_j - D_i) scale.
template <typename T, int HD>
__global__ void __launch_bounds__(kDqRows * GroupOf<HD>())
    AttentionBackwardDqKernel(T* dqkv, const T* dout, const T* qkv, const float* lse, const float* D,
                              const int32_t* cu_seqlens, int tiles_per_seq, int max_seqlen, int64_t NH, bool causal,
                              float scale) {
  constexpr int G = GroupOf<HD>();
  const TileAt t = LocateTile(cu_seqlens, tiles_per_seq, max_seqlen);
  const int q0 = t.tile * kDqRows;
  if (q0 >= t.len) return;
  const int64_t h = blockIdx.y, C = NH * HD, C3 = 3 * C;
  const int r = threadIdx.x / G, g = threadIdx.x % G, i = q0 + r;
  const bool valid = i < t.len;
  const T* base = qkv + t.begin * C3 + h * HD;
  const T* dO = dout + (t.begin + i) * C + h * HD;

  float q[kDimsPerThread], dout_i[kDimsPerThread], dq[kDimsPerThread];
#pragma unroll
  for (int d = 0; d < kDimsPerThread; ++d) {
    q[d] = valid ? ToFloat(base[i * C3 + d * G + g]) : 0.f;
    dout_i[d] = valid ? ToFloat(dO[d * G + g]) : 0.f;
    dq[d] = 0.f;
  }
  const float lse_i = valid ? lse[(t.begin + i) * NH + h] : 0.f;
  const float D_i = valid ? D[(static_cast<int64_t>(t.seq) * max_seqlen + i) * NH + h] : 0.f;
  __shared__ float Ks[kFwdKeys][HD];
  __shared__ float Vs[kFwdKeys][HD];
  const int kend = AttnKeyEnd(causal, t.len, q0, kDqRows);
  for (int k0 = 0; k0 < kend; k0 += kFwdKeys) {
    __syncthreads();
    LoadTile<T, HD, kFwdKeys>(Ks, base + C, C3, k0, t.len);
    LoadTile<T, HD, kFwdKeys>(Vs, base + 2 * C, C3, k0, t.len);
    __syncthreads();
#pragma unroll 4
    for (int j = 0; j < kFwdKeys; ++j) {
      float qk = 0.f, dov = 0.f;
#pragma unroll
      for (int d = 0; d < kDimsPerThread; ++d) {
        qk += q[d] * Ks[j][d * G + g];
        dov += dout_i[d] * Vs[j][d * G + g];
      }
      qk = GroupSum<G>(qk);
      dov = GroupSum<G>(dov);
      const int kj = k0 + j;
      const float p = !AttnVisible(causal, t.len, i, kj) ? 0.f : math::SoftmaxScale(scale * qk, lse_i);
      const float ds = p * (dov - D_i) * scale;
#pragma unroll
      for (int d = 0; d < kDimsPerThread; ++d) dq[d] += ds * Ks[j][d * G + g];
    }
  }
  if (!valid) return;
  T* dqi = dqkv + (t.begin + i) * C3 + h * HD;
#pragma unroll
  for (int d = 0; d < kDimsPerThread; ++d) dqi[d * G + g] = FromFloat<T>(ToFloat(dqi[d * G + g]) + dq[d]);
}

// dV_j += sum_i P_ij dO_i and dK_j += sum_i dS_ij Q_i over the query tiles,
// by the block owning key tile j.
template <typename T, int HD>
__global__ void __launch_bounds__(kKvKeys * GroupOf<HD>())
    AttentionBackwardDkvKernel(T* dqkv, const T* dout, const T* qkv, const float* lse, const float* D,
                               const int32_t* cu_seqlens, int tiles_per_seq, int max_seqlen, int64_t NH, bool causal,
                               float scale) {
  constexpr int G = GroupOf<HD>();
  const TileAt t = LocateTile(cu_seqlens, tiles_per_seq, max_seqlen);
  const int k0 = t.tile * kKvKeys;
  if (k0 >= t.len) return;
  const int64_t h = blockIdx.y, C = NH * HD, C3 = 3 * C;
  const int r = threadIdx.x / G, g = threadIdx.x % G, j = k0 + r;
  const bool valid = j < t.len;
  const T* base = qkv + t.begin * C3 + h * HD;

  float k[kDimsPerThread], v[kDimsPerThread], dk[kDimsPerThread], dv[kDimsPerThread];
#pragma unroll
  for (int d = 0; d < kDimsPerThread; ++d) {
    k[d] = valid ? ToFloat(base[j * C3 + C + d * G + g]) : 0.f;
    v[d] = valid ? ToFloat(base[j * C3 + 2 * C + d * G + g]) : 0.f;
    dk[d] = 0.f;
    dv[d] = 0.f;
  }
  __shared__ float Qs[kKvRows][HD];
  __shared__ float dOs[kKvRows][HD];
  __shared__ float lse_s[kKvRows];
  __shared__ float D_s[kKvRows];
  // Causal: only queries i >= k0 see this tile; start at the query tile holding k0.
  const int qstart = AttnQueryStart(causal, k0, kKvRows);
  for (int q0 = qstart; q0 < t.len; q0 += kKvRows) {
    __syncthreads();
    LoadTile<T, HD, kKvRows>(Qs, base, C3, q0, t.len);
    LoadTile<T, HD, kKvRows>(dOs, dout + t.begin * C + h * HD, C, q0, t.len);
    for (int e = threadIdx.x; e < kKvRows; e += blockDim.x) {
      const int i = q0 + e;
      lse_s[e] = i < t.len ? lse[(t.begin + i) * NH + h] : 0.f;
      D_s[e] = i < t.len ? D[(static_cast<int64_t>(t.seq) * max_seqlen + i) * NH + h] : 0.f;
    }
    __syncthreads();
#pragma unroll 4
    for (int rr = 0; rr < kKvRows; ++rr) {
      float qk = 0.f, dov = 0.f;
#pragma unroll
      for (int d = 0; d < kDimsPerThread; ++d) {
        qk += Qs[rr][d * G + g] * k[d];
        dov += dOs[rr][d * G + g] * v[d];
      }
      qk = GroupSum<G>(qk);
      dov = GroupSum<G>(dov);
      const int i = q0 + rr;
      const float p = !AttnVisible(causal, t.len, i, j) ? 0.f : math::SoftmaxScale(scale * qk, lse_s[rr]);
      const float ds = p * (dov - D_s[rr]) * scale;
#pragma unroll
      for (int d = 0; d < kDimsPerThread; ++d) {
        dv[d] += p * dOs[rr][d * G + g];
        dk[d] += ds * Qs[rr][d * G + g];
      }
    }
  }
  if (!valid) return;
  T* dkj = dqkv + (t.begin + j) * C3 + C + h * HD;
  T* dvj = dkj + C;
#pragma unroll
  for (int d = 0; d < kDimsPerThread; ++d) {
    dkj[d * G + g] = FromFloat<T>(ToFloat(dkj[d * G + g]) + dk[d]);
    dvj[d * G + g] = FromFloat<T>(ToFloat(dvj[d * G + g]) + dv[d]);
  }
}

bool SupportedHeadDim(int64_t HD) { return HD == 32 || HD == 64 || HD == 128; }

// Validates the shape and returns the grid of `rows`-row tiles, or records
// the error and returns false.
bool TileGrid(const char* op, int num_seqs, int max_seqlen, int64_t NH, int64_t HD, int rows, dim3* grid,
              int* tiles_per_seq) {
  if (!SupportedHeadDim(HD)) {
    braid::cuda::RecordError(Status::InvalidArgument(std::string(op) + ": head dim " + std::to_string(HD) +
                                                     " is not supported (32, 64 or 128)"));
    return false;
  }
  if (num_seqs < 0 || max_seqlen < 0 || NH < 0 || NH > 65535) {
    braid::cuda::RecordError(Status::InvalidArgument(std::string(op) + ": bad shape num_seqs " +
                                                     std::to_string(num_seqs) + ", max_seqlen " +
                                                     std::to_string(max_seqlen) + ", NH " + std::to_string(NH)));
    return false;
  }
  *tiles_per_seq = AttnTilesPerSeq(max_seqlen, rows);
  const int64_t blocks = int64_t{num_seqs} * *tiles_per_seq;
  if (blocks > 0x7fffffff) {
    braid::cuda::RecordError(
        Status::InvalidArgument(std::string(op) + ": " + std::to_string(blocks) + " tiles exceed the grid limit"));
    return false;
  }
  *grid = dim3(static_cast<unsigned>(blocks), static_cast<unsigned>(NH), 1);
  return true;
}

template <typename T, int HD>
void LaunchForward(T* out, float* lse, const T* qkv, const int32_t* cu_seqlens, dim3 grid, int tiles_per_seq,
                   int max_seqlen, int64_t NH, bool causal) {
  const float scale = 1.f / sqrtf(static_cast<float>(HD));
  AttentionForwardKernel<T, HD><<<grid, kFwdRows * GroupOf<HD>(), 0, braid::cuda::CurrentStream()>>>(
      out, lse, qkv, cu_seqlens, tiles_per_seq, max_seqlen, NH, causal, scale);
  BRAID_CUDA_CHECK_LAUNCH("AttentionForwardKernel");
}

template <typename T, int HD>
void LaunchBackward(T* dqkv, const T* dout, const T* qkv, const float* lse, const float* D, const int32_t* cu_seqlens,
                    int num_seqs, int max_seqlen, int64_t NH, bool causal) {
  const float scale = 1.f / sqrtf(static_cast<float>(HD));
  const cudaStream_t stream = braid::cuda::CurrentStream();
  dim3 grid;
  int tiles = 0;
  if (!TileGrid("attention_backward", num_seqs, max_seqlen, NH, HD, kDqRows, &grid, &tiles)) return;
  AttentionBackwardDqKernel<T, HD><<<grid, kDqRows * GroupOf<HD>(), 0, stream>>>(dqkv, dout, qkv, lse, D, cu_seqlens,
                                                                                 tiles, max_seqlen, NH, causal, scale);
  BRAID_CUDA_CHECK_LAUNCH("AttentionBackwardDqKernel");
  if (!TileGrid("attention_backward", num_seqs, max_seqlen, NH, HD, kKvKeys, &grid, &tiles)) return;
  AttentionBackwardDkvKernel<T, HD><<<grid, kKvKeys * GroupOf<HD>(), 0, stream>>>(dqkv, dout, qkv, lse, D, cu_seqlens,
                                                                                  tiles, max_seqlen, NH, causal, scale);
  BRAID_CUDA_CHECK_LAUNCH("AttentionBackwardDkvKernel");
}

}  // namespace

template <typename T>
void attention_forward(T* out, float* lse, const T* qkv, const int32_t* cu_seqlens, int num_seqs, int max_seqlen,
                       int64_t NH, int64_t HD, bool causal) {
  dim3 grid;
  int tiles = 0;
  if (!TileGrid("attention_forward", num_seqs, max_seqlen, NH, HD, kFwdRows, &grid, &tiles)) return;
  if (grid.x == 0 || grid.y == 0) return;
  switch (HD) {
    case 32:
      LaunchForward<T, 32>(out, lse, qkv, cu_seqlens, grid, tiles, max_seqlen, NH, causal);
      break;
    case 64:
      LaunchForward<T, 64>(out, lse, qkv, cu_seqlens, grid, tiles, max_seqlen, NH, causal);
      break;
    default:
      LaunchForward<T, 128>(out, lse, qkv, cu_seqlens, grid, tiles, max_seqlen, NH, causal);
      break;
  }
}

template <typename T>
void attention_backward(T* dqkv, const T* dout, const T* qkv, const T* out, const float* lse, const int32_t* cu_seqlens,
                        int num_seqs, int max_seqlen, int64_t NH, int64_t HD, bool causal) {
  dim3 grid;
  int tiles = 0;
  if (!TileGrid("attention_backward", num_seqs, max_seqlen, NH, HD, kDqRows, &grid, &tiles)) return;
  if (grid.x == 0 || grid.y == 0) return;
  const cudaStream_t stream = braid::cuda::CurrentStream();
  const int64_t blocks_per_seq = AttnRowDotBlocksPerSeq(max_seqlen, NH, kDThreads / 32);
  if (blocks_per_seq * num_seqs > 0x7fffffff) {
    braid::cuda::RecordError(Status::InvalidArgument("attention_backward: too many rows for the D grid"));
    return;
  }
  // D = rowsum(dO * O), in stream-ordered scratch.
  const size_t D_bytes = static_cast<size_t>(num_seqs) * static_cast<size_t>(max_seqlen) * NH * sizeof(float);
  const braid::cuda::Scratch scratch(D_bytes, "cudaMallocAsync(attention D)");
  if (!scratch.ok()) return;
  float* D = scratch.at<float>();
  AttentionRowDotKernel<T><<<static_cast<unsigned>(blocks_per_seq * num_seqs), kDThreads, 0, stream>>>(
      D, dout, out, cu_seqlens, static_cast<int>(blocks_per_seq), max_seqlen, NH, HD);
  BRAID_CUDA_CHECK_LAUNCH("AttentionRowDotKernel");
  switch (HD) {
    case 32:
      LaunchBackward<T, 32>(dqkv, dout, qkv, lse, D, cu_seqlens, num_seqs, max_seqlen, NH, causal);
      break;
    case 64:
      LaunchBackward<T, 64>(dqkv, dout, qkv, lse, D, cu_seqlens, num_seqs, max_seqlen, NH, causal);
      break;
    default:
      LaunchBackward<T, 128>(dqkv, dout, qkv, lse, D, cu_seqlens, num_seqs, max_seqlen, NH, causal);
      break;
  }
}

#define BRAID_INSTANTIATE(T)                                                                                    \
  template void attention_forward<T>(T*, float*, const T*, const int32_t*, int, int, int64_t, int64_t, bool);   \
  template void attention_backward<T>(T*, const T*, const T*, const T*, const float*, const int32_t*, int, int, \
                                      int64_t, int64_t, bool);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(braid::cuda::bf16)

}  // namespace braid::ops::cuda
