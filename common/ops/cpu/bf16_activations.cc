#include "common/ops/cpu/bf16_activations.h"

#include "common/ops/cpu/activation.h"
#include "common/ops/cpu/attention.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/norm.h"

namespace braid::ops::bf16act {

std::vector<float> Widen(const bf16_t* x, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n > 0 ? n : 0));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = Bf16ToFloat(x[i]);
  return out;
}

void Narrow(bf16_t* out, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = FloatToBf16(x[i]);
}

namespace {
// Rows of a packed attention call: cu_seqlens[num_seqs] (host memory here).
int64_t PackedRows(const int32_t* cu_seqlens, int num_seqs) { return num_seqs > 0 ? cu_seqlens[num_seqs] : 0; }
}  // namespace

void rmsnorm_forward(bf16_t* out, float* rstd, const float* inp, const float* weight, int64_t N, int64_t C,
                     float eps) {
  std::vector<float> o(static_cast<size_t>(N * C));
  ops::rmsnorm_forward<float>(o.data(), rstd, inp, weight, N, C, eps);
  Narrow(out, o.data(), N * C);
}

void layernorm_forward(bf16_t* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps) {
  std::vector<float> o(static_cast<size_t>(N * C));
  ops::layernorm_forward<float>(o.data(), mean, rstd, inp, weight, bias, N, C, eps);
  Narrow(out, o.data(), N * C);
}

void matmul_forward(bf16_t* out, const bf16_t* inp, const float* weight, const float* bias, int64_t N, int64_t C,
                    int64_t OC) {
  std::vector<float> o(static_cast<size_t>(N * OC));
  matmul_forward_f32(o.data(), inp, weight, bias, N, C, OC);
  Narrow(out, o.data(), N * OC);
}

void matmul_forward_f32(float* out, const bf16_t* inp, const float* weight, const float* bias, int64_t N, int64_t C,
                        int64_t OC) {
  const std::vector<float> x = Widen(inp, N * C);
  ops::matmul_forward<float>(out, x.data(), weight, bias, N, C, OC);
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const bf16_t* inp,
                     const float* weight, int64_t N, int64_t C, int64_t OC) {
  const std::vector<float> x = Widen(inp, N * C);
  ops::matmul_backward<float>(dinp, dweight, dbias, dout, x.data(), weight, N, C, OC);
}

void attention_forward(bf16_t* out, float* lse, const bf16_t* qkv, const int32_t* cu_seqlens, int num_seqs,
                       int max_seqlen, int64_t NH, int64_t HD, bool causal) {
  const int64_t N = PackedRows(cu_seqlens, num_seqs), A = NH * HD;
  const std::vector<float> q = Widen(qkv, N * 3 * A);
  std::vector<float> o(static_cast<size_t>(N * A));
  ops::attention_forward<float>(o.data(), lse, q.data(), cu_seqlens, num_seqs, max_seqlen, NH, HD, causal);
  Narrow(out, o.data(), N * A);
}

void attention_backward(float* dqkv, const float* dout, const bf16_t* qkv, const bf16_t* out, const float* lse,
                        const int32_t* cu_seqlens, int num_seqs, int max_seqlen, int64_t NH, int64_t HD, bool causal) {
  const int64_t N = PackedRows(cu_seqlens, num_seqs), A = NH * HD;
  const std::vector<float> q = Widen(qkv, N * 3 * A), o = Widen(out, N * A);
  ops::attention_backward<float>(dqkv, dout, q.data(), o.data(), lse, cu_seqlens, num_seqs, max_seqlen, NH, HD,
                                 causal);
}

void gelu_forward(bf16_t* out, const bf16_t* inp, int64_t n) {
  const std::vector<float> x = Widen(inp, n);
  std::vector<float> o(static_cast<size_t>(n));
  ops::gelu_forward<float>(o.data(), x.data(), n);
  Narrow(out, o.data(), n);
}

void gelu_backward(float* dinp, const float* dout, const bf16_t* inp, int64_t n) {
  const std::vector<float> x = Widen(inp, n);
  ops::gelu_backward<float>(dinp, dout, x.data(), n);
}

void swiglu_forward(bf16_t* out, const bf16_t* inp, int64_t N, int64_t H) {
  const std::vector<float> x = Widen(inp, N * 2 * H);
  std::vector<float> o(static_cast<size_t>(N * H));
  ops::swiglu_forward<float>(o.data(), x.data(), N, H);
  Narrow(out, o.data(), N * H);
}

void swiglu_backward(float* dinp, const float* dout, const bf16_t* inp, int64_t N, int64_t H) {
  const std::vector<float> x = Widen(inp, N * 2 * H);
  ops::swiglu_backward<float>(dinp, dout, x.data(), N, H);
}

const Bf16ActivationOps& CpuBf16ActivationOps() {
  static const Bf16ActivationOps table = [] {
    Bf16ActivationOps t;
    t.rmsnorm_forward = &rmsnorm_forward;
    t.layernorm_forward = &layernorm_forward;
    t.matmul_forward = &matmul_forward;
    t.matmul_forward_f32 = &matmul_forward_f32;
    t.matmul_backward = &matmul_backward;
    t.attention_forward = &attention_forward;
    t.attention_backward = &attention_backward;
    t.gelu_forward = &gelu_forward;
    t.gelu_backward = &gelu_backward;
    t.swiglu_forward = &swiglu_forward;
    t.swiglu_backward = &swiglu_backward;
    return t;
  }();
  return table;
}

}  // namespace braid::ops::bf16act
