// The activations a transformer block keeps between its forward and its
// backward, in the storage the calling thread's backend asks for (docs/GPU.md,
// "Mixed precision"): float on the CPU and on fp32 devices; bf16 for the
// inputs and outputs of the GEMMs, the attention and the MLP activation when
// the backend has bf16 activation ops (ops::CurrentBf16ActivationOps(), the
// CUDA backend's `precision: bf16`). The residual stream, the norm
// statistics, the attention's lse and every gradient stay float.
//
// The functions below are the block's ops on such buffers: with float
// storage each is exactly the float ops:: call it replaces (the CPU path is
// unchanged bit for bit); with bf16 storage each is the backend's bf16 entry.
#pragma once

#include <cstdint>
#include <vector>

#include "common/ops/bf16.h"
#include "common/tensor/tensor.h"

namespace braid::nn {

class ActBuffer {
 public:
  // Reallocates to `shape`, zero-filled, in the calling thread's memory and
  // activation storage (bf16 when the backend has bf16 activation ops).
  void Resize(std::vector<int64_t> shape);
  bool bf16() const { return bf16_; }
  size_t bytes() const;  // storage held
  // The storage (aborts when it is the other type).
  Tensor& f32();
  const Tensor& f32() const;
  TensorT<bf16_t>& b16();
  const TensorT<bf16_t>& b16() const;

 private:
  bool bf16_ = false;
  Tensor f32_;
  TensorT<bf16_t> b16_;
};

namespace act {

// out = norm(inp): LayerNorm with `bias`, RMSNorm when it is null (mean unused).
void NormForward(ActBuffer& out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                 int64_t N, int64_t C);
// out (N,OC) = inp (N,C) @ weight^T + bias, into a buffer or into float memory.
void Linear(ActBuffer& out, const ActBuffer& inp, const float* weight, const float* bias, int64_t N, int64_t C,
            int64_t OC);
void LinearToFloat(float* out, const ActBuffer& inp, const float* weight, const float* bias, int64_t N, int64_t C,
                   int64_t OC);
// dinp, dweight, dbias += (any may be null).
void LinearBackward(float* dinp, float* dweight, float* dbias, const float* dout, const ActBuffer& inp,
                    const float* weight, int64_t N, int64_t C, int64_t OC);
void Attention(ActBuffer& out, float* lse, const ActBuffer& qkv, const int32_t* cu_seqlens, int num_seqs,
               int max_seqlen, int64_t NH, int64_t HD, bool causal);
// dqkv +=.
void AttentionBackward(float* dqkv, const float* dout, const ActBuffer& qkv, const ActBuffer& out, const float* lse,
                       const int32_t* cu_seqlens, int num_seqs, int max_seqlen, int64_t NH, int64_t HD, bool causal);
// out (N,H) = swiglu(inp (N,2H)) or gelu(inp (N,H)); dinp +=.
void MlpActivation(ActBuffer& out, const ActBuffer& inp, bool swiglu, int64_t N, int64_t H);
void MlpActivationBackward(float* dinp, const float* dout, const ActBuffer& inp, bool swiglu, int64_t N, int64_t H);

}  // namespace act
}  // namespace braid::nn
