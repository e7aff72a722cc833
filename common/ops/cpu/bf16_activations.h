// CPU reference of the bf16 activation ops (backend.h, Bf16ActivationOps;
// docs/GPU.md "Mixed precision"): each widens its bf16 operands to float,
// runs the float CPU kernel of the same name, and rounds its bf16 outputs
// to nearest even. A device's bf16 entries are checked against these (the
// GPU tests), and the guarded fake device runs them to check the model's
// bf16 plumbing on a machine without a GPU. Call them with no backend set
// (they call the float ops:: kernels, which would dispatch otherwise).
#pragma once

#include <cstdint>
#include <vector>

#include "common/ops/backend.h"
#include "common/ops/bf16.h"

namespace braid::ops::bf16act {

std::vector<float> Widen(const bf16_t* x, int64_t n);
void Narrow(bf16_t* out, const float* x, int64_t n);

void rmsnorm_forward(bf16_t* out, float* rstd, const float* inp, const float* weight, int64_t N, int64_t C, float eps);
void layernorm_forward(bf16_t* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t N, int64_t C, float eps);
void matmul_forward(bf16_t* out, const bf16_t* inp, const float* weight, const float* bias, int64_t N, int64_t C,
                    int64_t OC);
void matmul_forward_f32(float* out, const bf16_t* inp, const float* weight, const float* bias, int64_t N, int64_t C,
                        int64_t OC);
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const bf16_t* inp,
                     const float* weight, int64_t N, int64_t C, int64_t OC);
void attention_forward(bf16_t* out, float* lse, const bf16_t* qkv, const int32_t* cu_seqlens, int num_seqs,
                       int max_seqlen, int64_t NH, int64_t HD, bool causal);
void attention_backward(float* dqkv, const float* dout, const bf16_t* qkv, const bf16_t* out, const float* lse,
                        const int32_t* cu_seqlens, int num_seqs, int max_seqlen, int64_t NH, int64_t HD, bool causal);
void gelu_forward(bf16_t* out, const bf16_t* inp, int64_t n);
void gelu_backward(float* dinp, const float* dout, const bf16_t* inp, int64_t n);
void swiglu_forward(bf16_t* out, const bf16_t* inp, int64_t N, int64_t H);
void swiglu_backward(float* dinp, const float* dout, const bf16_t* inp, int64_t N, int64_t H);

// The table of these functions (host memory; for tests that call them
// through a table, and for wrapping by a fake device).
const Bf16ActivationOps& CpuBf16ActivationOps();

}  // namespace braid::ops::bf16act
