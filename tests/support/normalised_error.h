// The scale-normalised error of a result against its reference,
//   max_i |got_i - want_i| / max(1e-6, max_i |want_i|)
// (docs/GPU.md's bounds are in it); infinite when the sizes differ or a
// difference is NaN. Shared by the GPU tests (tests/gpu/gpu_compare.h) and
// the CPU tests of reduced precision (nn_device_bf16_test).
#pragma once

#include <cmath>
#include <vector>

namespace braid::testing_support {

template <typename A, typename B>
double NormalisedError(const std::vector<A>& got, const std::vector<B>& want) {
  if (got.size() != want.size()) return INFINITY;
  double scale = 1e-6, err = 0;
  for (size_t i = 0; i < want.size(); ++i) scale = std::fmax(scale, std::fabs(static_cast<double>(want[i])));
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
    if (!(d == d)) return INFINITY;  // NaN
    err = std::fmax(err, d);
  }
  return err / scale;
}

}  // namespace braid::testing_support
