#include "common/ops/cuda/bf16_activation_kernels.h"

#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/math/elementwise.h"

namespace braid::ops::cuda {
namespace {

using braid::cuda::bf16;
using braid::cuda::GridFor;

constexpr int kThreads = 256;

__global__ void GeluBackwardMixedKernel(float* dinp, const float* dout, const bf16* inp, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    dinp[i] += dout[i] * math::GeluGrad(__bfloat162float(inp[i]));
}

__global__ void SwigluBackwardMixedKernel(float* dinp, const float* dout, const bf16* inp, int64_t N, int64_t H) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < N * H; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t n = i / H, h = i % H;
    const bf16* a = inp + n * 2 * H;
    float* da = dinp + n * 2 * H;
    float ga = 0.f, gb = 0.f;
    math::SwigluGrad(__bfloat162float(a[h]), __bfloat162float(a[H + h]), dout[i], &ga, &gb);
    da[h] += ga;
    da[H + h] += gb;
  }
}

}  // namespace

void gelu_backward_mixed(float* dinp, const float* dout, const bf16* inp, int64_t n) {
  if (n <= 0) return;
  GeluBackwardMixedKernel<<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(dinp, dout, inp, n);
  BRAID_CUDA_CHECK_LAUNCH("GeluBackwardMixedKernel");
}

void swiglu_backward_mixed(float* dinp, const float* dout, const bf16* inp, int64_t N, int64_t H) {
  if (N <= 0 || H <= 0) return;
  SwigluBackwardMixedKernel<<<GridFor(N * H, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(dinp, dout, inp,
                                                                                                      N, H);
  BRAID_CUDA_CHECK_LAUNCH("SwigluBackwardMixedKernel");
}

}  // namespace braid::ops::cuda
