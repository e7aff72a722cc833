#include "common/ops/cuda/adamw.h"

#include "common/ops/cuda/block_reduce.h"
#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"

namespace braid::ops::cuda {
namespace {

using braid::cuda::BlockAllReduce;
using braid::cuda::GridFor;
using braid::cuda::kSumThreads;
using braid::cuda::SumOp;

constexpr int kThreads = 256;

__global__ void AdamWKernel(float* params, float* m, float* v, const float* grads, const uint8_t* decay_mask,
                            int64_t n, math::AdamWScalars<float> s, float decay_on, braid::cuda::bf16* params_bf16) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    float p = params[i], mi = m[i], vi = v[i];
    const float decay = decay_mask == nullptr || decay_mask[i] != 0 ? decay_on : 0.f;
    math::AdamWUpdate(&p, &mi, &vi, grads[i], decay, s);
    params[i] = p;
    m[i] = mi;
    v[i] = vi;
    if (params_bf16 != nullptr) params_bf16[i] = __float2bfloat16_rn(p);
  }
}

__global__ void __launch_bounds__(kSumThreads) SumSquaresPartialsKernel(double* partials, const float* g, int64_t n) {
  double s = 0;
  for (int64_t i = blockIdx.x * int64_t{kSumThreads} + threadIdx.x; i < n; i += int64_t{gridDim.x} * kSumThreads)
    s += static_cast<double>(g[i]) * g[i];
  s = BlockAllReduce(s, SumOp{}, 0.0);
  if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

__global__ void ClipToNormKernel(float* grads, int64_t n, const double* norm, double max_norm) {
  const double nm = *norm;
  if (!(max_norm > 0.0 && isfinite(nm) && nm > max_norm)) return;
  const float scale = static_cast<float>(max_norm / nm);
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    grads[i] *= scale;
}

void SumOfSquares(double* out, const float* grads, int64_t n, double* scratch, bool take_sqrt) {
  const int blocks = braid::cuda::SumBlocks(n);
  SumSquaresPartialsKernel<<<blocks, kSumThreads, 0, braid::cuda::CurrentStream()>>>(scratch, grads, n);
  BRAID_CUDA_CHECK_LAUNCH("SumSquaresPartialsKernel");
  braid::cuda::FinishSumKernel<<<1, kSumThreads, 0, braid::cuda::CurrentStream()>>>(out, scratch, blocks, take_sqrt);
  BRAID_CUDA_CHECK_LAUNCH("FinishSumKernel");
}

}  // namespace

void adamw_step(float* params, float* m, float* v, const float* grads, const uint8_t* decay_mask, int64_t n,
                const math::AdamWScalars<float>& s, float decay_on, braid::cuda::bf16* params_bf16) {
  if (n <= 0) return;
  AdamWKernel<<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(params, m, v, grads, decay_mask,
                                                                                    n, s, decay_on, params_bf16);
  BRAID_CUDA_CHECK_LAUNCH("AdamWKernel");
}

void grad_sum_of_squares(double* sum_sq, const float* grads, int64_t n, double* scratch) {
  SumOfSquares(sum_sq, grads, n, scratch, false);
}

void grad_norm(double* norm, const float* grads, int64_t n, double* scratch) {
  SumOfSquares(norm, grads, n, scratch, true);
}

void clip_to_norm(float* grads, int64_t n, const double* norm, double max_norm) {
  if (n <= 0) return;
  ClipToNormKernel<<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(grads, n, norm, max_norm);
  BRAID_CUDA_CHECK_LAUNCH("ClipToNormKernel");
}

}  // namespace braid::ops::cuda
