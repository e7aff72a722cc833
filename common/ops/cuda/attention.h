// CUDA flash-style attention over packed variable-length sequences: the
// contract of ops/cpu/attention.h (sequence s occupies rows
// [cu_seqlens[s], cu_seqlens[s+1]) of the packed tensors; qkv (N, 3*NH*HD)
// with per row [q | k | v] and head h at columns h*HD; out (N, NH*HD);
// causal masks j > i), on the calling thread's cuda::Context stream.
//
// T is float or bf16 (dtype.h); accumulation is in float and the saved
// log-sum-exp `lse` (N, NH) is always float. `cu_seqlens` (num_seqs + 1
// int32 offsets) lives on the device; `max_seqlen` must be >= every
// sequence's length (it bounds the tiles launched per sequence; rows past
// it would be left uncomputed). Head dims 32, 64 and 128 are supported; any
// other records an InvalidArgument error in the Context (check.h) and
// launches nothing.
//
// FlashAttention-2 scheme, plain CUDA: the forward runs one block per
// (query tile, head, sequence), streams K/V tiles through shared memory and
// keeps an online softmax (common/ops/math/softmax.h). The backward
// recomputes the probabilities from lse: a small kernel computes
// D = rowsum(dO * O); the block owning a key tile accumulates its dK, dV
// over the query tiles, and a separate pass computes dQ per query tile over
// the key tiles. No atomics: results are deterministic run to run.
#pragma once

#include <cstdint>

namespace braid::ops::cuda {

// Overwrites out and lse.
template <typename T>
void attention_forward(T* out, float* lse, const T* qkv, const int32_t* cu_seqlens, int num_seqs, int max_seqlen,
                       int64_t NH, int64_t HD, bool causal);

// Accumulates into dqkv (N, 3*NH*HD) (+=, like the CPU op). Allocates a
// stream-ordered float scratch of num_seqs * max_seqlen * NH for D.
template <typename T>
void attention_backward(T* dqkv, const T* dout, const T* qkv, const T* out, const float* lse, const int32_t* cu_seqlens,
                        int num_seqs, int max_seqlen, int64_t NH, int64_t HD, bool causal);

}  // namespace braid::ops::cuda
