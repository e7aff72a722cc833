// CUDA token embedding lookup and position-embedding add: the contracts of
// ops/cpu/embedding.h on the calling thread's cuda::Context stream, T float
// or bf16 (dtype.h). The backwards are deterministic without float atomics:
// the rows are stably sorted by id (CUB radix sort), then each (id, column)
// sums its rows in row order, in float, and adds the sum to dtable once.
// In fp32 this is the CPU's order of additions, so the results are equal.
#pragma once

#include <cstdint>

namespace braid::ops::cuda {

// out (N,C) = table[ids[n]]; ids in [0, V). Overwrites out.
template <typename T>
void embedding_forward(T* out, const int32_t* ids, const T* table, int64_t N, int64_t C);
// dtable[ids[n]] += dout[n].
template <typename T>
void embedding_backward(T* dtable, const T* dout, const int32_t* ids, int64_t N, int64_t C);

// Vocabulary-parallel (ops/cpu/vocab_parallel.h): this rank holds the
// table rows [v_begin, v_end). out (N,C) = table_local[ids[n] - v_begin]
// for the ids it holds, 0 for the others; the backward adds the rows it
// holds, deterministically as embedding_backward (the others sort first
// and are skipped).
template <typename T>
void vocab_embedding_forward(T* out, const int32_t* ids, const T* table_local, int64_t v_begin, int64_t v_end,
                             int64_t N, int64_t C);
template <typename T>
void vocab_embedding_backward(T* dtable_local, const T* dout, const int32_t* ids, int64_t v_begin, int64_t v_end,
                              int64_t N, int64_t C);

// out[n] += table[pos[n]].
template <typename T>
void add_positions_forward(T* out, const int32_t* pos, const T* table, int64_t N, int64_t C);
// dtable[pos[n]] += dout[n].
template <typename T>
void add_positions_backward(T* dtable, const T* dout, const int32_t* pos, int64_t N, int64_t C);

}  // namespace braid::ops::cuda
