#include "common/ops/cpu/embedding.h"

#include <type_traits>

#include "common/ops/backend.h"

namespace braid::ops {

template <typename T>
void embedding_forward(T* out, const int32_t* ids, const T* table, int64_t N, int64_t C) {
  BRAID_DEVICE_DISPATCH(embedding_forward, out, ids, table, N, C);
  for (int64_t n = 0; n < N; ++n) {
    const T* row = table + static_cast<int64_t>(ids[n]) * C;
    for (int64_t c = 0; c < C; ++c) out[n * C + c] = row[c];
  }
}

template <typename T>
void embedding_backward(T* dtable, const T* dout, const int32_t* ids, int64_t N, int64_t C) {
  BRAID_DEVICE_DISPATCH(embedding_backward, dtable, dout, ids, N, C);
  // Sequential on purpose: rows of dtable may repeat, and the order of the
  // additions must not depend on the thread count (determinism).
  for (int64_t n = 0; n < N; ++n) {
    T* row = dtable + static_cast<int64_t>(ids[n]) * C;
    for (int64_t c = 0; c < C; ++c) row[c] += dout[n * C + c];
  }
}

template <typename T>
void add_positions_forward(T* out, const int32_t* pos, const T* table, int64_t N, int64_t C) {
  BRAID_DEVICE_DISPATCH(add_positions_forward, out, pos, table, N, C);
  for (int64_t n = 0; n < N; ++n) {
    const T* row = table + static_cast<int64_t>(pos[n]) * C;
    for (int64_t c = 0; c < C; ++c) out[n * C + c] += row[c];
  }
}

template <typename T>
void add_positions_backward(T* dtable, const T* dout, const int32_t* pos, int64_t N, int64_t C) {
  BRAID_DEVICE_DISPATCH(add_positions_backward, dtable, dout, pos, N, C);
  embedding_backward(dtable, dout, pos, N, C);
}

#define BRAID_INSTANTIATE(T)                                                                  \
  template void embedding_forward<T>(T*, const int32_t*, const T*, int64_t, int64_t);        \
  template void embedding_backward<T>(T*, const T*, const int32_t*, int64_t, int64_t);       \
  template void add_positions_forward<T>(T*, const int32_t*, const T*, int64_t, int64_t);    \
  template void add_positions_backward<T>(T*, const T*, const int32_t*, int64_t, int64_t);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(double)

}  // namespace braid::ops
