#include "common/nn/block_activations.h"

#include "common/base/check.h"
#include "common/ops/backend.h"
#include "common/ops/cpu/activation.h"
#include "common/ops/cpu/attention.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/norm.h"

namespace braid::nn {

void ActBuffer::Resize(std::vector<int64_t> shape) {
  const bool want_bf16 = ops::CurrentBf16ActivationOps() != nullptr;
  if (want_bf16 != bf16_) {  // drop the other storage
    f32_ = Tensor();
    b16_ = TensorT<bf16_t>();
    bf16_ = want_bf16;
  }
  if (bf16_)
    b16_.Resize(std::move(shape));
  else
    f32_.Resize(std::move(shape));
}

size_t ActBuffer::bytes() const {
  return bf16_ ? static_cast<size_t>(b16_.numel()) * sizeof(bf16_t) : static_cast<size_t>(f32_.numel()) * sizeof(float);
}

Tensor& ActBuffer::f32() {
  BRAID_CHECK_MSG(!bf16_, "ActBuffer::f32() on bf16 activations");
  return f32_;
}
const Tensor& ActBuffer::f32() const {
  BRAID_CHECK_MSG(!bf16_, "ActBuffer::f32() on bf16 activations");
  return f32_;
}
TensorT<bf16_t>& ActBuffer::b16() {
  BRAID_CHECK_MSG(bf16_, "ActBuffer::b16() on float activations");
  return b16_;
}
const TensorT<bf16_t>& ActBuffer::b16() const {
  BRAID_CHECK_MSG(bf16_, "ActBuffer::b16() on float activations");
  return b16_;
}

namespace act {
namespace {

// The thread's bf16 ops when `a` holds bf16 (after the op-boundary hook, as
// every device op runs it), else null: the float op runs.
const ops::Bf16ActivationOps* Bf16For(const ActBuffer& a) {
  if (!a.bf16()) return nullptr;
  const ops::Bf16ActivationOps* t = ops::CurrentBf16ActivationOps();
  BRAID_CHECK_MSG(t != nullptr, "bf16 activations used on a thread whose backend has no bf16 activation ops");
  AtOpBoundary();
  return t;
}

void CheckSame(const ActBuffer& a, const ActBuffer& b) {
  BRAID_CHECK_MSG(a.bf16() == b.bf16(), "activation buffers of different storage in one op");
}

}  // namespace

void NormForward(ActBuffer& out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                 int64_t N, int64_t C) {
  const float eps = 1e-5f;  // the float ops' default
  if (const ops::Bf16ActivationOps* t = Bf16For(out)) {
    if (bias == nullptr)
      t->rmsnorm_forward(out.b16().data(), rstd, inp, weight, N, C, eps);
    else
      t->layernorm_forward(out.b16().data(), mean, rstd, inp, weight, bias, N, C, eps);
    return;
  }
  if (bias == nullptr)
    ops::rmsnorm_forward(out.f32().data(), rstd, inp, weight, N, C);
  else
    ops::layernorm_forward(out.f32().data(), mean, rstd, inp, weight, bias, N, C);
}

void Linear(ActBuffer& out, const ActBuffer& inp, const float* weight, const float* bias, int64_t N, int64_t C,
            int64_t OC) {
  CheckSame(out, inp);
  if (const ops::Bf16ActivationOps* t = Bf16For(inp)) {
    t->matmul_forward(out.b16().data(), inp.b16().data(), weight, bias, N, C, OC);
    return;
  }
  ops::matmul_forward(out.f32().data(), inp.f32().data(), weight, bias, N, C, OC);
}

void LinearToFloat(float* out, const ActBuffer& inp, const float* weight, const float* bias, int64_t N, int64_t C,
                   int64_t OC) {
  if (const ops::Bf16ActivationOps* t = Bf16For(inp)) {
    t->matmul_forward_f32(out, inp.b16().data(), weight, bias, N, C, OC);
    return;
  }
  ops::matmul_forward<float>(out, inp.f32().data(), weight, bias, N, C, OC);
}

void LinearBackward(float* dinp, float* dweight, float* dbias, const float* dout, const ActBuffer& inp,
                    const float* weight, int64_t N, int64_t C, int64_t OC) {
  if (const ops::Bf16ActivationOps* t = Bf16For(inp)) {
    t->matmul_backward(dinp, dweight, dbias, dout, inp.b16().data(), weight, N, C, OC);
    return;
  }
  ops::matmul_backward(dinp, dweight, dbias, dout, inp.f32().data(), weight, N, C, OC);
}

void Attention(ActBuffer& out, float* lse, const ActBuffer& qkv, const int32_t* cu_seqlens, int num_seqs,
               int max_seqlen, int64_t NH, int64_t HD, bool causal) {
  CheckSame(out, qkv);
  if (const ops::Bf16ActivationOps* t = Bf16For(qkv)) {
    t->attention_forward(out.b16().data(), lse, qkv.b16().data(), cu_seqlens, num_seqs, max_seqlen, NH, HD, causal);
    return;
  }
  ops::attention_forward(out.f32().data(), lse, qkv.f32().data(), cu_seqlens, num_seqs, max_seqlen, NH, HD, causal);
}

void AttentionBackward(float* dqkv, const float* dout, const ActBuffer& qkv, const ActBuffer& out, const float* lse,
                       const int32_t* cu_seqlens, int num_seqs, int max_seqlen, int64_t NH, int64_t HD, bool causal) {
  CheckSame(out, qkv);
  if (const ops::Bf16ActivationOps* t = Bf16For(qkv)) {
    t->attention_backward(dqkv, dout, qkv.b16().data(), out.b16().data(), lse, cu_seqlens, num_seqs, max_seqlen, NH,
                          HD, causal);
    return;
  }
  ops::attention_backward(dqkv, dout, qkv.f32().data(), out.f32().data(), lse, cu_seqlens, num_seqs, max_seqlen, NH,
                          HD, causal);
}

void MlpActivation(ActBuffer& out, const ActBuffer& inp, bool swiglu, int64_t N, int64_t H) {
  CheckSame(out, inp);
  if (const ops::Bf16ActivationOps* t = Bf16For(inp)) {
    if (swiglu)
      t->swiglu_forward(out.b16().data(), inp.b16().data(), N, H);
    else
      t->gelu_forward(out.b16().data(), inp.b16().data(), N * H);
    return;
  }
  if (swiglu)
    ops::swiglu_forward(out.f32().data(), inp.f32().data(), N, H);
  else
    ops::gelu_forward(out.f32().data(), inp.f32().data(), N * H);
}

void MlpActivationBackward(float* dinp, const float* dout, const ActBuffer& inp, bool swiglu, int64_t N, int64_t H) {
  if (const ops::Bf16ActivationOps* t = Bf16For(inp)) {
    if (swiglu)
      t->swiglu_backward(dinp, dout, inp.b16().data(), N, H);
    else
      t->gelu_backward(dinp, dout, inp.b16().data(), N * H);
    return;
  }
  if (swiglu)
    ops::swiglu_backward(dinp, dout, inp.f32().data(), N, H);
  else
    ops::gelu_backward(dinp, dout, inp.f32().data(), N * H);
}

}  // namespace act
}  // namespace braid::nn
