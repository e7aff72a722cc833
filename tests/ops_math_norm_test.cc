// The single-source row math of RMSNorm and LayerNorm (common/ops/math/norm.h),
// which the CPU kernels and the CUDA kernels share: the rows it computes
// against a direct float64 computation, its backward against central finite
// differences, the float arithmetic of the GPU kernels against the CPU
// kernels, and the CPU kernels against the helpers bit for bit.
#include "common/ops/math/norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "common/ops/cpu/norm.h"

namespace braid {
namespace {

template <typename T>
std::vector<T> Random(size_t n, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = T(d(g));
  return v;
}

// max |got - want| / max(floor, max |want|). The floor is for gradients that
// cancel to nearly 0 (C = 1 or 2: a row's normalised values barely depend on
// its inputs): there the terms' scale (about 1 here), not the result's, sets
// the rounding error.
double MaxRelError(const std::vector<double>& got, const std::vector<double>& want, double floor = 1e-300) {
  double scale = floor, err = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    scale = std::fmax(scale, std::fabs(want[i]));
    err = std::fmax(err, std::fabs(got[i] - want[i]));
  }
  return err / scale;
}

template <typename T>
std::vector<double> Wide(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// One row with the helpers, elements in T, reductions accumulated in A (the
// CPU kernels: T float or double, A double; the GPU kernels: both float).
template <typename T, typename A>
struct Row {
  static std::vector<T> Rms(const std::vector<T>& x, const std::vector<T>& w, T eps, T* rstd) {
    A ss = 0;
    for (T v : x) ss += A(v) * A(v);
    const T r = T(math::NormRstd(ss, A(x.size()), A(eps)));
    std::vector<T> y(x.size());
    for (size_t c = 0; c < x.size(); ++c) y[c] = math::RmsNormOut(x[c], r, w[c]);
    *rstd = r;
    return y;
  }
  static void RmsBackward(std::vector<T>* dx, std::vector<T>* dw, const std::vector<T>& dy, const std::vector<T>& x,
                          const std::vector<T>& w, T r) {
    A dot = 0;
    for (size_t c = 0; c < x.size(); ++c) dot += math::RmsNormDotTerm(A(dy[c]), A(w[c]), A(x[c]));
    const T k = math::RmsNormBackwardCoeff(T(dot), r, T(x.size()));
    for (size_t c = 0; c < x.size(); ++c) {
      (*dx)[c] += math::RmsNormDx(dy[c], x[c], w[c], r, k);
      (*dw)[c] += math::RmsNormDw(dy[c], x[c], r);
    }
  }
  static std::vector<T> Ln(const std::vector<T>& x, const std::vector<T>& w, const std::vector<T>& b, T eps, T* mean,
                           T* rstd) {
    A m = 0;
    for (T v : x) m += A(v);
    m /= A(x.size());
    A var = 0;
    for (T v : x) var += (A(v) - m) * (A(v) - m);
    const T r = T(math::NormRstd(var, A(x.size()), A(eps)));
    std::vector<T> y(x.size());
    for (size_t c = 0; c < x.size(); ++c) y[c] = math::LayerNormOut(x[c], T(m), r, w[c], b[c]);
    *mean = T(m);
    *rstd = r;
    return y;
  }
  static void LnBackward(std::vector<T>* dx, std::vector<T>* dw, std::vector<T>* db, const std::vector<T>& dy,
                         const std::vector<T>& x, const std::vector<T>& w, T m, T r) {
    A s1 = 0, s2 = 0;
    for (size_t c = 0; c < x.size(); ++c) math::LayerNormDotTerms(A(dy[c]), A(w[c]), A(x[c]), A(m), A(r), &s1, &s2);
    const T a = T(s1 / A(x.size())), b = T(s2 / A(x.size()));
    for (size_t c = 0; c < x.size(); ++c) {
      (*dx)[c] += math::LayerNormDx(dy[c], x[c], w[c], m, r, a, b);
      (*dw)[c] += math::LayerNormDw(dy[c], x[c], m, r);
      (*db)[c] += dy[c];
    }
  }
};

using RowD = Row<double, double>;
using RowF = Row<float, float>;

constexpr double kEps = 1e-5;
const int kSizes[] = {1, 2, 7, 64, 769};

TEST(OpsMathNormTest, NormRstdIsOneOverRootMeanPlusEps) {
  EXPECT_EQ(math::NormRstd(8.0, 2.0, 0.0), 0.5);
  EXPECT_EQ(math::NormRstd(0.0, 5.0, 0.25), 2.0);
  EXPECT_FLOAT_EQ(math::NormRstd(3.f, 3.f, 0.f), 1.f);
}

// Rows from the helpers against the textbook formulas in float64; the float
// version (the GPU's arithmetic) within float rounding of them.
TEST(OpsMathNormTest, RowsMatchFloat64) {
  for (int C : kSizes) {
    auto x = Random<double>(C, 1 + C, -3, 3), w = Random<double>(C, 2 + C), b = Random<double>(C, 3 + C);
    double ss = 0, mean = 0, var = 0;
    for (double v : x) ss += v * v, mean += v;
    mean /= C;
    for (double v : x) var += (v - mean) * (v - mean);
    const double r_rms = 1 / std::sqrt(ss / C + kEps), r_ln = 1 / std::sqrt(var / C + kEps);
    std::vector<double> want_rms(C), want_ln(C);
    for (int c = 0; c < C; ++c) {
      want_rms[c] = x[c] * r_rms * w[c];
      want_ln[c] = (x[c] - mean) * r_ln * w[c] + b[c];
    }
    double r = 0, m = 0;
    EXPECT_LE(MaxRelError(RowD::Rms(x, w, kEps, &r), want_rms), 1e-14) << C;
    EXPECT_NEAR(r, r_rms, 1e-14 * r_rms);
    EXPECT_LE(MaxRelError(RowD::Ln(x, w, b, kEps, &m, &r), want_ln), 1e-12) << C;
    EXPECT_NEAR(r, r_ln, 1e-12 * r_ln);
    EXPECT_NEAR(m, mean, 1e-14);

    std::vector<float> xf(x.begin(), x.end()), wf(w.begin(), w.end()), bf(b.begin(), b.end());
    float rf = 0, mf = 0;
    EXPECT_LE(MaxRelError(Wide(RowF::Rms(xf, wf, float(kEps), &rf)), want_rms), 2e-6) << C;
    EXPECT_LE(MaxRelError(Wide(RowF::Ln(xf, wf, bf, float(kEps), &mf, &rf)), want_ln), 2e-5) << C;
  }
}

// d/dx, d/dw (and d/db) of L = sum_c g_c y_c against central differences.
TEST(OpsMathNormTest, BackwardMatchesFiniteDifferences) {
  const double h = 1e-6;
  for (int C : kSizes) {
    auto x = Random<double>(C, 10 + C, -2, 2), w = Random<double>(C, 11 + C, 0.5, 1.5),
         b = Random<double>(C, 12 + C), g = Random<double>(C, 13 + C);
    auto loss = [&](const std::vector<double>& y) {
      double l = 0;
      for (int c = 0; c < C; ++c) l += g[c] * y[c];
      return l;
    };
    auto rms_loss = [&](const std::vector<double>& xv, const std::vector<double>& wv) {
      double r;
      return loss(RowD::Rms(xv, wv, kEps, &r));
    };
    auto ln_loss = [&](const std::vector<double>& xv, const std::vector<double>& wv, const std::vector<double>& bv) {
      double m, r;
      return loss(RowD::Ln(xv, wv, bv, kEps, &m, &r));
    };
    auto fd = [&](std::vector<double> v, int c, auto&& f) {
      v[c] += h;
      const double up = f(v);
      v[c] -= 2 * h;
      return (up - f(v)) / (2 * h);
    };
    double r, m;
    RowD::Rms(x, w, kEps, &r);
    std::vector<double> dx(C, 0.0), dw(C, 0.0), db(C, 0.0);
    RowD::RmsBackward(&dx, &dw, g, x, w, r);
    std::vector<double> fd_dx(C), fd_dw(C), fd_db(C);
    for (int c = 0; c < C; ++c) {
      fd_dx[c] = fd(x, c, [&](const std::vector<double>& v) { return rms_loss(v, w); });
      fd_dw[c] = fd(w, c, [&](const std::vector<double>& v) { return rms_loss(x, v); });
    }
    EXPECT_LE(MaxRelError(dx, fd_dx, 1.0), 1e-6) << "rms dx C=" << C;
    EXPECT_LE(MaxRelError(dw, fd_dw), 1e-6) << "rms dw C=" << C;

    RowD::Ln(x, w, b, kEps, &m, &r);
    std::fill(dx.begin(), dx.end(), 0.0);
    std::fill(dw.begin(), dw.end(), 0.0);
    RowD::LnBackward(&dx, &dw, &db, g, x, w, m, r);
    for (int c = 0; c < C; ++c) {
      fd_dx[c] = fd(x, c, [&](const std::vector<double>& v) { return ln_loss(v, w, b); });
      fd_dw[c] = fd(w, c, [&](const std::vector<double>& v) { return ln_loss(x, v, b); });
      fd_db[c] = fd(b, c, [&](const std::vector<double>& v) { return ln_loss(x, w, v); });
    }
    // C = 1: LayerNorm's output is the bias whatever x is, so dx is 0 (the
    // finite difference too, to rounding): an absolute bound.
    if (C == 1) {
      EXPECT_NEAR(dx[0], 0.0, 1e-12);
      EXPECT_NEAR(fd_dx[0], 0.0, 1e-6);
    } else {
      EXPECT_LE(MaxRelError(dx, fd_dx, 1.0), 1e-6) << "ln dx C=" << C;
    }
    EXPECT_LE(MaxRelError(dw, fd_dw), 1e-6) << "ln dw C=" << C;
    EXPECT_LE(MaxRelError(db, fd_db), 1e-6) << "ln db C=" << C;
  }
}

// The CPU kernels are the helpers with double accumulation, bit for bit; the
// GPU's all-float arithmetic stays within float rounding of them.
TEST(OpsMathNormTest, CpuKernelsAreTheHelpers) {
  using RowCpu = Row<float, double>;
  for (int C : kSizes) {
    const int64_t N = 3;
    auto x = Random<float>(N * C, 20 + C, -2, 2), w = Random<float>(C, 21 + C), b = Random<float>(C, 22 + C),
         dy = Random<float>(N * C, 23 + C);
    std::vector<float> y(N * C), mean(N), rstd(N), dx(N * C, 0.f), dw(C, 0.f), db(C, 0.f);
    ops::rmsnorm_forward(y.data(), rstd.data(), x.data(), w.data(), N, C);
    ops::rmsnorm_backward(dx.data(), dw.data(), dy.data(), x.data(), w.data(), rstd.data(), N, C);
    std::vector<float> hdw(C, 0.f), fdw(C, 0.f);
    for (int64_t n = 0; n < N; ++n) {
      std::vector<float> xr(x.begin() + n * C, x.begin() + (n + 1) * C);
      std::vector<float> dyr(dy.begin() + n * C, dy.begin() + (n + 1) * C);
      float r = 0, rf = 0;
      auto yr = RowCpu::Rms(xr, w, 1e-5f, &r);
      EXPECT_EQ(r, rstd[n]);
      for (int c = 0; c < C; ++c) EXPECT_EQ(yr[c], y[n * C + c]) << "rms C=" << C;
      std::vector<float> hdx(C, 0.f), fdx(C, 0.f);
      RowCpu::RmsBackward(&hdx, &hdw, dyr, xr, w, r);
      for (int c = 0; c < C; ++c) EXPECT_EQ(hdx[c], dx[n * C + c]) << "rms dx C=" << C;
      auto yf = RowF::Rms(xr, w, 1e-5f, &rf);
      RowF::RmsBackward(&fdx, &fdw, dyr, xr, w, rf);
      EXPECT_LE(MaxRelError(Wide(yf), Wide(yr)), 1e-6) << C;
      EXPECT_LE(MaxRelError(Wide(fdx), Wide(hdx), 1.0), 1e-5) << C;
    }
    for (int c = 0; c < C; ++c) EXPECT_EQ(hdw[c], dw[c]) << "rms dw C=" << C;
    EXPECT_LE(MaxRelError(Wide(fdw), Wide(hdw)), 1e-5) << C;

    std::fill(dx.begin(), dx.end(), 0.f);
    std::fill(dw.begin(), dw.end(), 0.f);
    std::fill(hdw.begin(), hdw.end(), 0.f);
    std::vector<float> hdb(C, 0.f);
    ops::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
    ops::layernorm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), mean.data(), rstd.data(),
                            N, C);
    for (int64_t n = 0; n < N; ++n) {
      std::vector<float> xr(x.begin() + n * C, x.begin() + (n + 1) * C);
      std::vector<float> dyr(dy.begin() + n * C, dy.begin() + (n + 1) * C);
      float m = 0, r = 0;
      auto yr = RowCpu::Ln(xr, w, b, 1e-5f, &m, &r);
      EXPECT_EQ(m, mean[n]);
      EXPECT_EQ(r, rstd[n]);
      for (int c = 0; c < C; ++c) EXPECT_EQ(yr[c], y[n * C + c]) << "ln C=" << C;
      std::vector<float> hdx(C, 0.f);
      RowCpu::LnBackward(&hdx, &hdw, &hdb, dyr, xr, w, m, r);
      for (int c = 0; c < C; ++c) EXPECT_EQ(hdx[c], dx[n * C + c]) << "ln dx C=" << C;
    }
    for (int c = 0; c < C; ++c) {
      EXPECT_EQ(hdw[c], dw[c]) << "ln dw C=" << C;
      EXPECT_EQ(hdb[c], db[c]) << "ln db C=" << C;
    }
  }
}

}  // namespace
}  // namespace braid
