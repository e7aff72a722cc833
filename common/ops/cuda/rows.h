// CUDA row movement and simple accumulation over (rows, C) matrices: the
// contracts of ops/cpu/rows.h on the calling thread's cuda::Context stream,
// T float or bf16 (dtype.h; sums are formed in float and stored as T).
// rows[k] indexes the large matrix; k indexes the small, packed one.
// Every element is written by one thread, so the results are deterministic
// (scatter_add_rows relies on its contract that rows do not repeat).
#pragma once

#include <cstdint>

namespace braid::ops::cuda {

// out[k] = src[rows[k]] for k < n (out: (n, C)). Overwrites out.
template <typename T>
void gather_rows(T* out, const T* src, const int32_t* rows, int64_t n, int64_t C);
// dst[rows[k]] = src[k] for k < n. Rows not listed are untouched.
template <typename T>
void scatter_rows(T* dst, const T* src, const int32_t* rows, int64_t n, int64_t C);
// dst[rows[k]] += src[k] for k < n (rows may not repeat).
template <typename T>
void scatter_add_rows(T* dst, const T* src, const int32_t* rows, int64_t n, int64_t C);
// dst[rows[k]] = 0 for k < n.
template <typename T>
void zero_rows(T* dst, const int32_t* rows, int64_t n, int64_t C);
// out[r] += bias for every row r of out (N, C).
template <typename T>
void add_bias(T* out, const T* bias, int64_t N, int64_t C);
// dst[i] = src[i] for i < n (device to device, stream-ordered).
template <typename T>
void copy(T* dst, const T* src, int64_t n);
// dst[i] += src[i] for i < n.
template <typename T>
void accumulate(T* dst, const T* src, int64_t n);

}  // namespace braid::ops::cuda
