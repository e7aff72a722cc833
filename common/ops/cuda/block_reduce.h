// Deterministic reductions for the CUDA losses and the gradient norm: no
// float atomics, and an order that depends only on the sizes, so a result
// is the same bits on every run.
//
// A sum over n elements runs in two passes: at most kSumPartials blocks of
// kSumThreads threads each reduce a fixed strided share into one partial
// (a scratch array of kSumPartials doubles), then one block adds the
// partials in a fixed order. Callers pass the scratch (public op headers say
// which take one); the device helpers below are for .cu files only.
#pragma once

#include <cstdint>
#include <cstring>

namespace braid::cuda {

inline constexpr int kSumPartials = 1024;  // doubles of scratch a two-pass sum needs
inline constexpr int kSumThreads = 256;

// Blocks of pass one for n elements.
inline int SumBlocks(int64_t n) {
  const int64_t b = (n + kSumThreads - 1) / kSumThreads;
  return static_cast<int>(b < 1 ? 1 : (b > kSumPartials ? kSumPartials : b));
}

#if defined(__CUDACC__)

// __shfl_xor_sync of any trivially copyable V made of 32-bit words (float,
// double, int64, a struct of floats).
template <typename V>
__device__ __forceinline__ V ShflXor(V x, int o) {
  static_assert(sizeof(V) % 4 == 0, "ShflXor: V must be whole 32-bit words");
  unsigned words[sizeof(V) / 4];
  memcpy(words, &x, sizeof(V));
  for (unsigned& w : words) w = __shfl_xor_sync(0xffffffffu, w, o);
  memcpy(&x, words, sizeof(V));
  return x;
}

// Reduces x over the block with `op` (associative up to rounding) and
// returns the result to every thread: a shuffle tree per warp, then every
// thread folds the warps' results in warp order starting from `identity`.
// The order is fixed by blockDim alone. blockDim.x must be a multiple of 32
// (at most 1024) and every thread of the block must call it; it
// synchronises the block, so it may be called repeatedly.
template <typename V, typename Op>
__device__ inline V BlockAllReduce(V x, Op op, V identity) {
  __shared__ V warp_results[32];
  for (int o = 16; o > 0; o >>= 1) x = op(x, ShflXor(x, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  __syncthreads();  // an earlier call's readers are done with warp_results
  if (lane == 0) warp_results[warp] = x;
  __syncthreads();
  V y = identity;
  for (int w = 0; w < warps; ++w) y = op(y, warp_results[w]);
  return y;
}

struct SumOp {
  template <typename V>
  __device__ V operator()(V a, V b) const {
    return a + b;
  }
};
struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Pass two: out[0] = the sum of partials[0..count) (its sqrt when
// take_sqrt), in one block of kSumThreads. A template only so that every .cu
// may instantiate it (no separable compilation).
template <typename A>
__global__ void __launch_bounds__(kSumThreads) FinishSumKernel(A* out, const A* partials, int count, bool take_sqrt) {
  A s = 0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partials[i];
  s = BlockAllReduce(s, SumOp{}, A(0));
  if (threadIdx.x == 0) out[0] = take_sqrt ? sqrt(s) : s;
}

#endif  // __CUDACC__

}  // namespace braid::cuda
