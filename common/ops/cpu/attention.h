// Multi-head self-attention over packed variable-length sequences
// (cu_seqlens style): sequence s occupies rows [cu_seqlens[s], cu_seqlens[s+1])
// of the packed (N, ...) tensors; tokens attend only within their own
// sequence, so there is no padding and no leakage across samples.
// Flash-style bookkeeping: forward saves the per-row log-sum-exp, backward
// recomputes the probabilities from it.
#pragma once

#include <cstdint>

namespace braid::ops {

// qkv (N, 3*NH*HD): per row [q | k | v], head h at columns h*HD.
// out (N, NH*HD); lse (N, NH) saved for backward. causal: mask j > i.
// Overwrites out and lse. max_seqlen: the longest sequence (the CPU kernel
// ignores it; the CUDA kernel sizes its grid by it, cu_seqlens being on the
// device).
template <typename T>
void attention_forward(T* out, T* lse, const T* qkv, const int32_t* cu_seqlens, int num_seqs, int max_seqlen,
                       int64_t NH, int64_t HD, bool causal);

// Accumulates into dqkv (N, 3*NH*HD).
template <typename T>
void attention_backward(T* dqkv, const T* dout, const T* qkv, const T* out, const T* lse,
                        const int32_t* cu_seqlens, int num_seqs, int max_seqlen, int64_t NH, int64_t HD,
                        bool causal);

}  // namespace braid::ops
