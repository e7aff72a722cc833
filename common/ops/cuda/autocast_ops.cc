// The autocast op table (cuda_backend.h, Precision::kBf16Autocast;
// docs/GPU.md step 5, "Mixed precision (as built)"): the matmuls and the
// attention on bf16 operands with fp32 accumulation and fp32 results, AdamW
// writing the bf16 weight mirrors, every other op the fp32 CudaOps' own.
//
// bf16 operands live in stream-ordered scratch (cudaMallocAsync /
// cudaFreeAsync on the current stream, from the device's memory pool: after
// the first step the pool reuses the same blocks). Nothing here waits for
// the device.
#include <cstddef>
#include <cstdint>

#include "common/ops/cuda/adamw.h"
#include "common/ops/cuda/attention.h"
#include "common/ops/cuda/autocast_cast.h"
#include "common/ops/cuda/autocast_util.h"
#include "common/ops/cuda/check.h"
#include "common/ops/cuda/scratch.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/cuda_backend.h"
#include "common/ops/cuda/matmul.h"

namespace braid::cuda {
namespace {

namespace k = ::braid::ops::cuda;

// Aligned, Shadows and MirroredWeight: autocast_util.h.

void MatmulForward(float* out, const float* inp, const float* weight, const float* bias, int64_t N, int64_t C,
                   int64_t OC) {
  if (N == 0) return;
  const bf16* w = MirroredWeight(weight, OC * C);
  const size_t inp_bytes = Aligned(N * C, sizeof(bf16));
  Scratch s(inp_bytes + (w == nullptr ? Aligned(OC * C, sizeof(bf16)) : 0));
  if (!s.ok()) return;
  bf16* inp_b = s.at<bf16>(0);
  k::cast_to_bf16(inp_b, inp, N * C);
  if (w == nullptr) {
    bf16* w_b = s.at<bf16>(inp_bytes);
    k::cast_to_bf16(w_b, weight, OC * C);
    w = w_b;
  }
  k::matmul_forward_mixed(out, inp_b, w, bias, N, C, OC);
}

void MatmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int64_t N, int64_t C, int64_t OC) {
  if (N == 0) return;
  if (dinp != nullptr || dweight != nullptr) {
    const bf16* w = dinp != nullptr ? MirroredWeight(weight, OC * C) : nullptr;
    const bool cast_w = dinp != nullptr && w == nullptr;
    const size_t dout_bytes = Aligned(N * OC, sizeof(bf16));
    const size_t w_bytes = cast_w ? Aligned(OC * C, sizeof(bf16)) : 0;
    const size_t inp_bytes = dweight != nullptr ? Aligned(N * C, sizeof(bf16)) : 0;
    Scratch s(dout_bytes + w_bytes + inp_bytes);
    if (!s.ok()) return;
    bf16* dout_b = s.at<bf16>(0);
    k::cast_to_bf16(dout_b, dout, N * OC);
    if (cast_w) {
      bf16* w_b = s.at<bf16>(dout_bytes);
      k::cast_to_bf16(w_b, weight, OC * C);
      w = w_b;
    }
    bf16* inp_b = nullptr;
    if (dweight != nullptr) {
      inp_b = s.at<bf16>(dout_bytes + w_bytes);
      k::cast_to_bf16(inp_b, inp, N * C);
    }
    k::matmul_backward_mixed(dinp, dweight, dout_b, inp_b, w, N, C, OC);
  }
  // dbias from the fp32 dout: a column sum, no GEMM to gain from bf16.
  if (dbias != nullptr) k::matmul_backward<float, float>(nullptr, nullptr, dbias, dout, inp, weight, N, C, OC);
}

// Rows the attention scratch holds: every packed row of a valid call
// (cu_seqlens starts at 0 and no sequence is longer than max_seqlen).
int64_t ScratchRows(int num_seqs, int max_seqlen) { return int64_t{num_seqs} * int64_t{max_seqlen}; }

void AttentionForward(float* out, float* lse, const float* qkv, const int32_t* cu_seqlens, int num_seqs,
                      int max_seqlen, int64_t NH, int64_t HD, bool causal) {
  const int64_t rows = ScratchRows(num_seqs, max_seqlen), width = NH * HD;
  if (rows <= 0 || width <= 0) {  // nothing to compute: the fp32 op's own handling
    k::attention_forward<float>(out, lse, qkv, cu_seqlens, num_seqs, max_seqlen, NH, HD, causal);
    return;
  }
  const size_t qkv_bytes = Aligned(rows * 3 * width, sizeof(bf16));
  Scratch s(qkv_bytes + Aligned(rows * width, sizeof(bf16)));
  if (!s.ok()) return;
  bf16* qkv_b = s.at<bf16>(0);
  bf16* out_b = s.at<bf16>(qkv_bytes);
  k::cast_rows_to_bf16(qkv_b, qkv, 3 * width, cu_seqlens, num_seqs, rows);
  k::attention_forward<bf16>(out_b, lse, qkv_b, cu_seqlens, num_seqs, max_seqlen, NH, HD, causal);
  k::copy_rows_to_float(out, out_b, width, cu_seqlens, num_seqs, rows);
}

void AttentionBackward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                       const int32_t* cu_seqlens, int num_seqs, int max_seqlen, int64_t NH, int64_t HD, bool causal) {
  const int64_t rows = ScratchRows(num_seqs, max_seqlen), width = NH * HD;
  if (rows <= 0 || width <= 0) {
    k::attention_backward<float>(dqkv, dout, qkv, out, lse, cu_seqlens, num_seqs, max_seqlen, NH, HD, causal);
    return;
  }
  const size_t wide = Aligned(rows * 3 * width, sizeof(bf16)), narrow = Aligned(rows * width, sizeof(bf16));
  Scratch s(2 * wide + 2 * narrow);
  if (!s.ok()) return;
  bf16* qkv_b = s.at<bf16>(0);
  bf16* dqkv_b = s.at<bf16>(wide);
  bf16* out_b = s.at<bf16>(2 * wide);
  bf16* dout_b = s.at<bf16>(2 * wide + narrow);
  k::cast_rows_to_bf16(qkv_b, qkv, 3 * width, cu_seqlens, num_seqs, rows);
  k::cast_rows_to_bf16(out_b, out, width, cu_seqlens, num_seqs, rows);
  k::cast_rows_to_bf16(dout_b, dout, width, cu_seqlens, num_seqs, rows);
  // The bf16 kernel accumulates into its dqkv: start it at zero, then add
  // the result into the fp32 dqkv (the op's += contract).
  BRAID_CUDA_CHECK(cudaMemsetAsync(dqkv_b, 0, wide, CurrentStream()));
  k::attention_backward<bf16>(dqkv_b, dout_b, qkv_b, out_b, lse, cu_seqlens, num_seqs, max_seqlen, NH, HD, causal);
  k::accumulate_rows_to_float(dqkv, dqkv_b, 3 * width, cu_seqlens, num_seqs, rows);
}

void AdamWStep(float* p, float* m, float* v, const float* g, const uint8_t* mask, int64_t n, float lr, float beta1,
               float beta2, float eps, float bc1, float bc2_sqrt, float decay_on) {
  ParamShadows* shadows = Shadows();
  bf16* mirror = shadows != nullptr ? shadows->ForUpdate(p, n) : nullptr;
  const math::AdamWScalars<float> s{lr, beta1, beta2, eps, bc1, bc2_sqrt};
  k::adamw_step(p, m, v, g, mask, n, s, decay_on, mirror);
}

ops::DeviceOps MakeAutocastOps() {
  ops::DeviceOps t = CudaOps();
  t.name = "cuda-bf16-autocast";
  t.matmul_forward = &MatmulForward;
  t.matmul_backward = &MatmulBackward;
  t.attention_forward = &AttentionForward;
  t.attention_backward = &AttentionBackward;
  t.adamw_step = &AdamWStep;
  // bf16 activation storage: the model keeps its GEMM/attention activations in bf16.
  t.bf16_activations = &CudaBf16ActivationOps();
  return t;
}

}  // namespace

const ops::DeviceOps& CudaAutocastOps() {
  static const ops::DeviceOps table = MakeAutocastOps();
  return table;
}

}  // namespace braid::cuda
