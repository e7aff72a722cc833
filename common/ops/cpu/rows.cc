#include "common/ops/cpu/rows.h"

#include <algorithm>
#include <type_traits>

#include "common/base/host_cores.h"
#include "common/ops/backend.h"

namespace braid::ops {

template <typename T>
void gather_rows(T* out, const T* src, const int32_t* rows, int64_t n, int64_t C) {
  BRAID_DEVICE_DISPATCH(gather_rows, out, src, rows, n, C);
  AtOpBoundary();
  for (int64_t k = 0; k < n; ++k) std::copy(src + int64_t(rows[k]) * C, src + (int64_t(rows[k]) + 1) * C, out + k * C);
}

template <typename T>
void scatter_rows(T* dst, const T* src, const int32_t* rows, int64_t n, int64_t C) {
  BRAID_DEVICE_DISPATCH(scatter_rows, dst, src, rows, n, C);
  AtOpBoundary();
  for (int64_t k = 0; k < n; ++k) std::copy(src + k * C, src + (k + 1) * C, dst + int64_t(rows[k]) * C);
}

template <typename T>
void scatter_add_rows(T* dst, const T* src, const int32_t* rows, int64_t n, int64_t C) {
  BRAID_DEVICE_DISPATCH(scatter_add_rows, dst, src, rows, n, C);
  AtOpBoundary();
  for (int64_t k = 0; k < n; ++k) {
    T* d = dst + int64_t(rows[k]) * C;
    const T* s = src + k * C;
    for (int64_t c = 0; c < C; ++c) d[c] += s[c];
  }
}

template <typename T>
void zero_rows(T* dst, const int32_t* rows, int64_t n, int64_t C) {
  BRAID_DEVICE_DISPATCH(zero_rows, dst, rows, n, C);
  AtOpBoundary();
  for (int64_t k = 0; k < n; ++k) std::fill(dst + int64_t(rows[k]) * C, dst + (int64_t(rows[k]) + 1) * C, T(0));
}

template <typename T>
void add_bias(T* out, const T* bias, int64_t N, int64_t C) {
  BRAID_DEVICE_DISPATCH(add_bias, out, bias, N, C);
  AtOpBoundary();
  for (int64_t r = 0; r < N; ++r)
    for (int64_t c = 0; c < C; ++c) out[r * C + c] += bias[c];
}

template <typename T>
void copy(T* dst, const T* src, int64_t n) {
  BRAID_DEVICE_DISPATCH(copy, dst, src, n);
  AtOpBoundary();
  std::copy(src, src + n, dst);
}

template <typename T>
void accumulate(T* dst, const T* src, int64_t n) {
  BRAID_DEVICE_DISPATCH(accumulate, dst, src, n);
  AtOpBoundary();
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

#define BRAID_INSTANTIATE(T)                                                          \
  template void gather_rows<T>(T*, const T*, const int32_t*, int64_t, int64_t);      \
  template void scatter_rows<T>(T*, const T*, const int32_t*, int64_t, int64_t);     \
  template void scatter_add_rows<T>(T*, const T*, const int32_t*, int64_t, int64_t); \
  template void zero_rows<T>(T*, const int32_t*, int64_t, int64_t);                  \
  template void add_bias<T>(T*, const T*, int64_t, int64_t);                         \
  template void copy<T>(T*, const T*, int64_t);                                      \
  template void accumulate<T>(T*, const T*, int64_t);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(double)
#undef BRAID_INSTANTIATE

}  // namespace braid::ops
