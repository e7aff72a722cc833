// The single-source per-element math (common/ops/math/elementwise.h) that
// the CPU kernels and the CUDA kernels share: each gradient against a
// central finite difference in double, and float against double.
#include <gtest/gtest.h>

#include <cmath>

#include "common/ops/math/elementwise.h"

namespace braid::math {
namespace {

constexpr double kH = 1e-6;

TEST(ElementwiseMath, GeluGradIsTheDerivativeOfGelu) {
  for (double x = -6; x <= 6; x += 0.25) {
    const double fd = (Gelu(x + kH) - Gelu(x - kH)) / (2 * kH);
    EXPECT_NEAR(GeluGrad(x), fd, 1e-8) << "x = " << x;
    EXPECT_NEAR(double(Gelu(float(x))), Gelu(x), 1e-6 * (1 + std::abs(x))) << "x = " << x;
  }
  EXPECT_NEAR(Gelu(1.0), 0.8411919906082768, 1e-12);  // tanh-approximation GELU(1)
}

TEST(ElementwiseMath, SwigluGradIsTheDerivativeOfSwiglu) {
  for (double a = -5; a <= 5; a += 0.5)
    for (double b : {-2.0, 0.3, 1.7}) {
      const double d = 0.7;
      double da = 0, db = 0;
      SwigluGrad(a, b, d, &da, &db);
      EXPECT_NEAR(da, d * (Swiglu(a + kH, b) - Swiglu(a - kH, b)) / (2 * kH), 1e-8) << a << " " << b;
      EXPECT_NEAR(db, d * (Swiglu(a, b + kH) - Swiglu(a, b - kH)) / (2 * kH), 1e-8) << a << " " << b;
    }
  EXPECT_DOUBLE_EQ(Sigmoid(0.0), 0.5);
}

}  // namespace
}  // namespace braid::math
