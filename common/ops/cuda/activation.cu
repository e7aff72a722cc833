#include "common/ops/cuda/activation.h"

#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/math/elementwise.h"

namespace braid::ops::cuda {
namespace {

using braid::cuda::FromFloat;
using braid::cuda::GridFor;
using braid::cuda::ToFloat;

constexpr int kThreads = 256;

template <typename T>
__global__ void GeluForwardKernel(T* out, const T* inp, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    out[i] = FromFloat<T>(math::Gelu(ToFloat(inp[i])));
}

template <typename T>
__global__ void GeluBackwardKernel(T* dinp, const T* dout, const T* inp, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    dinp[i] = FromFloat<T>(ToFloat(dinp[i]) + ToFloat(dout[i]) * math::GeluGrad(ToFloat(inp[i])));
}

template <typename T>
__global__ void SwigluForwardKernel(T* out, const T* inp, int64_t N, int64_t H) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < N * H; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t n = i / H, h = i % H;
    const T* a = inp + n * 2 * H;
    out[i] = FromFloat<T>(math::Swiglu(ToFloat(a[h]), ToFloat(a[H + h])));
  }
}

template <typename T>
__global__ void SwigluBackwardKernel(T* dinp, const T* dout, const T* inp, int64_t N, int64_t H) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < N * H; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t n = i / H, h = i % H;
    const T* a = inp + n * 2 * H;
    T* da = dinp + n * 2 * H;
    float ga = 0.f, gb = 0.f;
    math::SwigluGrad(ToFloat(a[h]), ToFloat(a[H + h]), ToFloat(dout[i]), &ga, &gb);
    da[h] = FromFloat<T>(ToFloat(da[h]) + ga);
    da[H + h] = FromFloat<T>(ToFloat(da[H + h]) + gb);
  }
}

template <typename T>
__global__ void ResidualForwardKernel(T* out, const T* a, const T* b, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    out[i] = FromFloat<T>(ToFloat(a[i]) + ToFloat(b[i]));
}

template <typename T>
__global__ void ResidualBackwardKernel(T* da, T* db, const T* dout, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const float d = ToFloat(dout[i]);
    da[i] = FromFloat<T>(ToFloat(da[i]) + d);
    db[i] = FromFloat<T>(ToFloat(db[i]) + d);
  }
}

}  // namespace

template <typename T>
void gelu_forward(T* out, const T* inp, int64_t n) {
  if (n <= 0) return;
  GeluForwardKernel<<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(out, inp, n);
  BRAID_CUDA_CHECK_LAUNCH("GeluForwardKernel");
}

template <typename T>
void gelu_backward(T* dinp, const T* dout, const T* inp, int64_t n) {
  if (n <= 0) return;
  GeluBackwardKernel<<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(dinp, dout, inp, n);
  BRAID_CUDA_CHECK_LAUNCH("GeluBackwardKernel");
}

template <typename T>
void swiglu_forward(T* out, const T* inp, int64_t N, int64_t H) {
  if (N * H <= 0) return;
  SwigluForwardKernel<<<GridFor(N * H, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(out, inp, N, H);
  BRAID_CUDA_CHECK_LAUNCH("SwigluForwardKernel");
}

template <typename T>
void swiglu_backward(T* dinp, const T* dout, const T* inp, int64_t N, int64_t H) {
  if (N * H <= 0) return;
  SwigluBackwardKernel<<<GridFor(N * H, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(dinp, dout, inp, N,
                                                                                                 H);
  BRAID_CUDA_CHECK_LAUNCH("SwigluBackwardKernel");
}

template <typename T>
void residual_forward(T* out, const T* a, const T* b, int64_t n) {
  if (n <= 0) return;
  ResidualForwardKernel<<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(out, a, b, n);
  BRAID_CUDA_CHECK_LAUNCH("ResidualForwardKernel");
}

template <typename T>
void residual_backward(T* da, T* db, const T* dout, int64_t n) {
  if (n <= 0) return;
  ResidualBackwardKernel<<<GridFor(n, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(da, db, dout, n);
  BRAID_CUDA_CHECK_LAUNCH("ResidualBackwardKernel");
}

#define BRAID_INSTANTIATE(T)                                                   \
  template void gelu_forward<T>(T*, const T*, int64_t);                       \
  template void gelu_backward<T>(T*, const T*, const T*, int64_t);            \
  template void swiglu_forward<T>(T*, const T*, int64_t, int64_t);            \
  template void swiglu_backward<T>(T*, const T*, const T*, int64_t, int64_t); \
  template void residual_forward<T>(T*, const T*, const T*, int64_t);         \
  template void residual_backward<T>(T*, T*, const T*, int64_t);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(braid::cuda::bf16)

}  // namespace braid::ops::cuda
