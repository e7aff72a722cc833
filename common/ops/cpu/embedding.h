// Token embedding lookup and position-embedding add.
#pragma once

#include <cstdint>

namespace braid::ops {

// out (N,C) = table[ids[n]] ; ids in [0, V). Overwrites out.
template <typename T>
void embedding_forward(T* out, const int32_t* ids, const T* table, int64_t N, int64_t C);
// dtable[ids[n]] += dout[n].
template <typename T>
void embedding_backward(T* dtable, const T* dout, const int32_t* ids, int64_t N, int64_t C);

// out[n] += table[pos[n]] (learned absolute positions, reset per packed sequence).
template <typename T>
void add_positions_forward(T* out, const int32_t* pos, const T* table, int64_t N, int64_t C);
// dtable[pos[n]] += dout[n].
template <typename T>
void add_positions_backward(T* dtable, const T* dout, const int32_t* pos, int64_t N, int64_t C);

}  // namespace braid::ops
