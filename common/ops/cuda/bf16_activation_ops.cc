// bf16 activation storage on the CUDA backend (backend.h, Bf16ActivationOps;
// docs/GPU.md "Mixed precision"): the ops that read or write the activations
// a transformer block keeps in bf16. The CPU reference of each entry is
// ops::bf16act (cpu/bf16_activations.h): widen the bf16 operands, run the
// float op, round the bf16 outputs to nearest even. Here the bf16 operands
// go to the kernels as they are (no cast), every computation accumulates in
// float, and the float operands that a bf16 kernel needs in bf16 (the GEMM
// weights, attention's dout) are cast into stream-ordered scratch, the
// weights coming from the bf16 mirrors when registered (autocast_util.h).
// Nothing here waits for the device.
#include <cstddef>
#include <cstdint>

#include "common/ops/backend.h"
#include "common/ops/bf16.h"
#include "common/ops/cuda/activation.h"
#include "common/ops/cuda/attention.h"
#include "common/ops/cuda/autocast_cast.h"
#include "common/ops/cuda/autocast_util.h"
#include "common/ops/cuda/bf16_activation_kernels.h"
#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/cuda_backend.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/cuda/matmul.h"
#include "common/ops/cuda/norm.h"
#include "common/ops/cuda/scratch.h"

namespace braid::cuda {
namespace {

namespace k = ::braid::ops::cuda;

// The host's bf16 and the device's are the same two bytes (bf16.h).
static_assert(sizeof(bf16_t) == sizeof(bf16) && alignof(bf16_t) == alignof(bf16),
              "braid::bf16_t must be layout-compatible with __nv_bfloat16");
bf16* Dev(bf16_t* p) { return reinterpret_cast<bf16*>(p); }
const bf16* Dev(const bf16_t* p) { return reinterpret_cast<const bf16*>(p); }

// The bf16 weight (OC*C elements) from its mirror; without one, `cast_to`
// (a scratch region of Aligned(OC*C, sizeof(bf16)) bytes, or null when the
// caller found the mirror first) receives the cast.
const bf16* WeightBf16(const bf16* mirror, bf16* cast_to, const float* weight, int64_t count) {
  if (mirror != nullptr) return mirror;
  k::cast_to_bf16(cast_to, weight, count);
  return cast_to;
}

void RmsnormForward(bf16_t* out, float* rstd, const float* inp, const float* weight, int64_t N, int64_t C,
                    float eps) {
  k::rmsnorm_forward_to_bf16(Dev(out), rstd, inp, weight, N, C, eps);
}

void LayernormForward(bf16_t* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                      int64_t N, int64_t C, float eps) {
  k::layernorm_forward_to_bf16(Dev(out), mean, rstd, inp, weight, bias, N, C, eps);
}

void MatmulForwardF32(float* out, const bf16_t* inp, const float* weight, const float* bias, int64_t N, int64_t C,
                      int64_t OC) {
  if (N == 0) return;
  const bf16* mirror = MirroredWeight(weight, OC * C);
  Scratch s(mirror == nullptr ? Aligned(OC * C, sizeof(bf16)) : 0);
  if (!s.ok()) return;
  const bf16* w = WeightBf16(mirror, s.at<bf16>(0), weight, OC * C);
  k::matmul_forward_mixed(out, Dev(inp), w, bias, N, C, OC);
}

// The fp32 GEMM result in scratch, rounded into the bf16 out (the bias is
// added in fp32, before the rounding, as the CPU reference does).
void MatmulForward(bf16_t* out, const bf16_t* inp, const float* weight, const float* bias, int64_t N, int64_t C,
                   int64_t OC) {
  if (N == 0) return;
  const bf16* mirror = MirroredWeight(weight, OC * C);
  const size_t out_bytes = Aligned(N * OC, sizeof(float));
  Scratch s(out_bytes + (mirror == nullptr ? Aligned(OC * C, sizeof(bf16)) : 0));
  if (!s.ok()) return;
  float* out_f = s.at<float>(0);
  const bf16* w = WeightBf16(mirror, s.at<bf16>(out_bytes), weight, OC * C);
  k::matmul_forward_mixed(out_f, Dev(inp), w, bias, N, C, OC);
  k::cast_to_bf16(Dev(out), out_f, N * OC);
}

// As the autocast MatmulBackward with the activation already bf16: only dout
// (and an unmirrored weight) is cast.
void MatmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const bf16_t* inp,
                    const float* weight, int64_t N, int64_t C, int64_t OC) {
  if (N == 0) return;
  if (dinp != nullptr || dweight != nullptr) {
    const bf16* mirror = dinp != nullptr ? MirroredWeight(weight, OC * C) : nullptr;
    const bool cast_w = dinp != nullptr && mirror == nullptr;
    const size_t dout_bytes = Aligned(N * OC, sizeof(bf16));
    Scratch s(dout_bytes + (cast_w ? Aligned(OC * C, sizeof(bf16)) : 0));
    if (!s.ok()) return;
    bf16* dout_b = s.at<bf16>(0);
    k::cast_to_bf16(dout_b, dout, N * OC);
    const bf16* w = dinp != nullptr ? WeightBf16(mirror, s.at<bf16>(dout_bytes), weight, OC * C) : nullptr;
    k::matmul_backward_mixed(dinp, dweight, dout_b, Dev(inp), w, N, C, OC);
  }
  // dbias from the fp32 dout: a column sum (it reads neither inp nor weight
  // when dinp and dweight are null).
  if (dbias != nullptr) k::matmul_backward<float, float>(nullptr, nullptr, dbias, dout, nullptr, weight, N, C, OC);
}

// The bf16 flash kernels on the stored bf16 qkv and out (lse fp32). Shapes
// with nothing to compute, and invalid ones, are the kernel's own handling.
void AttentionForward(bf16_t* out, float* lse, const bf16_t* qkv, const int32_t* cu_seqlens, int num_seqs,
                      int max_seqlen, int64_t NH, int64_t HD, bool causal) {
  k::attention_forward<bf16>(Dev(out), lse, Dev(qkv), cu_seqlens, num_seqs, max_seqlen, NH, HD, causal);
}

// Rows the attention scratch holds: every packed row of a valid call
// (cu_seqlens starts at 0 and no sequence is longer than max_seqlen).
int64_t ScratchRows(int num_seqs, int max_seqlen) { return int64_t{num_seqs} * int64_t{max_seqlen}; }

void AttentionBackward(float* dqkv, const float* dout, const bf16_t* qkv, const bf16_t* out, const float* lse,
                       const int32_t* cu_seqlens, int num_seqs, int max_seqlen, int64_t NH, int64_t HD, bool causal) {
  const int64_t rows = ScratchRows(num_seqs, max_seqlen), width = NH * HD;
  if (rows <= 0 || width <= 0) {
    // Nothing to compute: the kernel's own shape checks (it launches
    // nothing for these shapes, so its gradients are never touched).
    k::attention_backward<bf16>(nullptr, nullptr, Dev(qkv), Dev(out), lse, cu_seqlens, num_seqs, max_seqlen, NH, HD,
                                causal);
    return;
  }
  const size_t wide = Aligned(rows * 3 * width, sizeof(bf16)), narrow = Aligned(rows * width, sizeof(bf16));
  Scratch s(wide + narrow);
  if (!s.ok()) return;
  bf16* dqkv_b = s.at<bf16>(0);
  bf16* dout_b = s.at<bf16>(wide);
  k::cast_rows_to_bf16(dout_b, dout, width, cu_seqlens, num_seqs, rows);
  // The bf16 kernel accumulates into its dqkv: start it at zero, then add
  // the result into the fp32 dqkv (the op's += contract).
  BRAID_CUDA_CHECK(cudaMemsetAsync(dqkv_b, 0, wide, CurrentStream()));
  k::attention_backward<bf16>(dqkv_b, dout_b, Dev(qkv), Dev(out), lse, cu_seqlens, num_seqs, max_seqlen, NH, HD,
                              causal);
  k::accumulate_rows_to_float(dqkv, dqkv_b, 3 * width, cu_seqlens, num_seqs, rows);
}

void GeluForward(bf16_t* out, const bf16_t* inp, int64_t n) { k::gelu_forward<bf16>(Dev(out), Dev(inp), n); }

void GeluBackward(float* dinp, const float* dout, const bf16_t* inp, int64_t n) {
  k::gelu_backward_mixed(dinp, dout, Dev(inp), n);
}

void SwigluForward(bf16_t* out, const bf16_t* inp, int64_t N, int64_t H) {
  k::swiglu_forward<bf16>(Dev(out), Dev(inp), N, H);
}

void SwigluBackward(float* dinp, const float* dout, const bf16_t* inp, int64_t N, int64_t H) {
  k::swiglu_backward_mixed(dinp, dout, Dev(inp), N, H);
}

}  // namespace

const ops::Bf16ActivationOps& CudaBf16ActivationOps() {
  static const ops::Bf16ActivationOps table = [] {
    ops::Bf16ActivationOps t;
    t.rmsnorm_forward = &RmsnormForward;
    t.layernorm_forward = &LayernormForward;
    t.matmul_forward = &MatmulForward;
    t.matmul_forward_f32 = &MatmulForwardF32;
    t.matmul_backward = &MatmulBackward;
    t.attention_forward = &AttentionForward;
    t.attention_backward = &AttentionBackward;
    t.gelu_forward = &GeluForward;
    t.gelu_backward = &GeluBackward;
    t.swiglu_forward = &SwigluForward;
    t.swiglu_backward = &SwigluBackward;
    return t;
  }();
  return table;
}

}  // namespace braid::cuda
