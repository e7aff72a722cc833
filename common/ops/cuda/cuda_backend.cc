#include "common/ops/cuda/cuda_backend.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/ops/cuda/activation.h"
#include "common/ops/cuda/adamw.h"
#include "common/ops/cuda/attention.h"
#include "common/ops/cuda/block_reduce.h"
#include "common/ops/cuda/check.h"
#include "common/ops/cuda/diffusion.h"
#include "common/ops/cuda/embedding.h"
#include "common/ops/cuda/loss.h"
#include "common/ops/cuda/matmul.h"
#include "common/ops/cuda/norm.h"
#include "common/ops/cuda/patch.h"
#include "common/ops/cuda/rows.h"
#include "common/ops/cuda/scratch.h"

namespace braid::cuda {

void* CudaMemory::Allocate(size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) return nullptr;
  const cudaError_t e = cudaMallocAsync(&p, bytes, ctx_->stream());
  if (e != cudaSuccess) {
    std::fprintf(stderr, "braid: %s\n",
                 CudaError(e, "cudaMallocAsync(tensor)", __FILE__, __LINE__).ToString().c_str());
    std::abort();
  }
  BRAID_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, ctx_->stream()));
  if (shadows_ != nullptr) shadows_->NoteFree(p, bytes);  // a range there was freed unseen: drop it
  return p;
}

void CudaMemory::Free(void* p, size_t bytes) {
  if (p == nullptr) return;
  if (shadows_ != nullptr) shadows_->NoteFree(p, bytes);
  BRAID_CUDA_CHECK(cudaFreeAsync(p, ctx_->stream()));
}

void CudaMemory::Zero(void* p, size_t bytes) {
  if (shadows_ != nullptr) shadows_->NoteWrite(p, bytes);
  if (bytes > 0) BRAID_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, ctx_->stream()));
}

void CudaMemory::CopyDeviceToDevice(void* dst, const void* src, size_t bytes) {
  if (shadows_ != nullptr) shadows_->NoteWrite(dst, bytes);
  if (bytes > 0) BRAID_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx_->stream()));
}

void CudaMemory::CopyToHost(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  BRAID_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx_->stream()));
  BRAID_CUDA_CHECK(cudaStreamSynchronize(ctx_->stream()));
}

void CudaMemory::CopyFromHost(void* dst, const void* src, size_t bytes) {
  // From pageable memory the copy is staged before the call returns, so the
  // caller may reuse `src` at once.
  if (shadows_ != nullptr) shadows_->NoteWrite(dst, bytes);
  if (bytes > 0) BRAID_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx_->stream()));
}

namespace {

// The CPU signatures of the loss forwards return the sum on the host: the
// device kernels leave it on the device, and these wrappers copy it back,
// waiting for the stream (the one stall per microbatch that is left;
// docs/GPU.md, "Known stalls"). On a CUDA error they return NaN and the
// error is in the Context.
struct LossScalars {
  double sum;
  int64_t count;
};

template <typename Launch>
LossScalars RunAndFetch(size_t extra_bytes, Launch launch) {
  const cudaStream_t s = CurrentStream();
  const Scratch scratch(sizeof(LossScalars) + extra_bytes, "cudaMallocAsync(loss scratch)");
  if (!scratch.ok()) return {std::nan(""), 0};
  auto* dev = scratch.at<LossScalars>();
  launch(&dev->sum, &dev->count, scratch.at<char>(sizeof(LossScalars)));
  LossScalars host{std::nan(""), 0};
  BRAID_CUDA_CHECK(cudaMemcpyAsync(&host, dev, sizeof host, cudaMemcpyDeviceToHost, s));
  BRAID_CUDA_CHECK(cudaStreamSynchronize(s));
  return host;
}

double CrossEntropyForward(float* losses, const float* logits, const int32_t* targets, int64_t N, int64_t V,
                           int64_t* count) {
  const size_t extra = losses == nullptr ? static_cast<size_t>(N) * sizeof(float) : 0;
  const LossScalars r = RunAndFetch(extra, [&](double* sum, int64_t* cnt, void* rest) {
    float* rows = losses != nullptr ? losses : static_cast<float*>(rest);
    ops::cuda::cross_entropy_forward<float>(rows, sum, cnt, logits, targets, N, V);
  });
  if (count != nullptr) *count = r.count;
  return r.sum;
}

double MseForward(const float* pred, const float* target, int64_t n) {
  return RunAndFetch(kSumPartials * sizeof(double),
                     [&](double* sum, int64_t*, void* rest) {
                       ops::cuda::mse_forward<float>(sum, pred, target, n, static_cast<double*>(rest));
                     })
      .sum;
}

double GradNorm(const float* grads, int64_t n) {
  return RunAndFetch(kSumPartials * sizeof(double),
                     [&](double* norm, int64_t*, void* rest) {
                       ops::cuda::grad_norm(norm, grads, n, static_cast<double*>(rest));
                     })
      .sum;
}

void ClipToNorm(float* grads, int64_t n, double norm, double max_norm) {
  if (!(max_norm > 0.0 && std::isfinite(norm) && norm > max_norm)) return;  // ClipToNorm's no-op cases
  const Scratch dnorm(sizeof(double), "cudaMallocAsync(clip norm)");
  if (!dnorm.ok()) return;
  // From pageable host memory: staged before the call returns.
  BRAID_CUDA_CHECK(cudaMemcpyAsync(dnorm.get(), &norm, sizeof(double), cudaMemcpyHostToDevice, CurrentStream()));
  ops::cuda::clip_to_norm(grads, n, dnorm.at<double>(), max_norm);
}

void AdamWStep(float* p, float* m, float* v, const float* g, const uint8_t* mask, int64_t n, float lr, float beta1,
               float beta2, float eps, float bc1, float bc2_sqrt, float decay_on) {
  const math::AdamWScalars<float> s{lr, beta1, beta2, eps, bc1, bc2_sqrt};
  ops::cuda::adamw_step(p, m, v, g, mask, n, s, decay_on);
}

ops::DeviceOps MakeCudaOps() {
  namespace k = ::braid::ops::cuda;
  ops::DeviceOps t;
  t.name = "cuda";
  t.gelu_forward = &k::gelu_forward<float>;
  t.gelu_backward = &k::gelu_backward<float>;
  t.swiglu_forward = &k::swiglu_forward<float>;
  t.swiglu_backward = &k::swiglu_backward<float>;
  t.residual_forward = &k::residual_forward<float>;
  t.residual_backward = &k::residual_backward<float>;
  t.embedding_forward = &k::embedding_forward<float>;
  t.embedding_backward = &k::embedding_backward<float>;
  t.add_positions_forward = &k::add_positions_forward<float>;
  t.add_positions_backward = &k::add_positions_backward<float>;
  t.matmul_forward = &k::matmul_forward<float>;
  t.matmul_backward = [](float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                         const float* weight, int64_t N, int64_t C, int64_t OC) {
    k::matmul_backward<float, float>(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
  };
  t.gemm = &k::gemm<float>;
  t.gather_rows = &k::gather_rows<float>;
  t.scatter_rows = &k::scatter_rows<float>;
  t.scatter_add_rows = &k::scatter_add_rows<float>;
  t.zero_rows = &k::zero_rows<float>;
  t.add_bias = &k::add_bias<float>;
  t.copy = &k::copy<float>;
  t.accumulate = &k::accumulate<float>;
  t.rmsnorm_forward = &k::rmsnorm_forward<float>;
  t.rmsnorm_backward = &k::rmsnorm_backward<float>;
  t.layernorm_forward = &k::layernorm_forward<float>;
  t.layernorm_backward = &k::layernorm_backward<float>;
  t.attention_forward = &k::attention_forward<float>;
  t.attention_backward = &k::attention_backward<float>;
  t.cross_entropy_forward = &CrossEntropyForward;
  t.cross_entropy_backward = &k::cross_entropy_backward<float>;
  t.mse_forward = &MseForward;
  t.mse_backward = &k::mse_backward<float>;
  t.grad_norm = &GradNorm;
  t.clip_to_norm = &ClipToNorm;
  t.adamw_step = &AdamWStep;
  t.patchify = &k::patchify<float>;
  t.unpatchify = &k::unpatchify<float>;
  // diffusion.h (DiT)
  t.timestep_features = &k::timestep_features<float>;
  t.diffusion_noise = &k::diffusion_noise<float>;
  t.keyed_normal = &k::keyed_normal<float>;
  t.ddim_update = &k::ddim_update<float>;
  t.diffusion_to_pixels = &k::diffusion_to_pixels<float>;
  return t;
}

}  // namespace

const ops::DeviceOps& CudaOps() {
  static const ops::DeviceOps table = MakeCudaOps();
  return table;
}

}  // namespace braid::cuda
