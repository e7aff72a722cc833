#include "common/ops/cpu/matmul.h"

#include <cblas.h>
#include <type_traits>

#include "common/base/host_cores.h"
#include "common/ops/backend.h"

namespace braid::ops {

template <>
void gemm<float>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* Cm, int64_t ldc) {
  if (const DeviceOps* d = DeviceWith(&DeviceOps::gemm, "gemm")) {
    AtOpBoundary();
    d->gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cm, ldc);
    return;
  }
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
              (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, Cm, (blasint)ldc);
}

template <>
void gemm<double>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                  const double* B, int64_t ldb, double beta, double* Cm, int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
              (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, Cm, (blasint)ldc);
}

template <typename T>
void matmul_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t C, int64_t OC) {
  BRAID_DEVICE_DISPATCH(matmul_forward, out, inp, weight, bias, N, C, OC);
  AtOpBoundary();
  if (N == 0) return;
  if (bias) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < OC; ++o) out[n * OC + o] = bias[o];
  }
  // out (N,OC) = inp (N,C) @ weight^T (C,OC)
  gemm<T>(false, true, N, OC, C, T(1), inp, C, weight, C, bias ? T(1) : T(0), out, OC);
}

template <typename T>
void matmul_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, int64_t N,
                     int64_t C, int64_t OC) {
  BRAID_DEVICE_DISPATCH(matmul_backward, dinp, dweight, dbias, dout, inp, weight, N, C, OC);
  AtOpBoundary();
  if (N == 0) return;
  // dinp (N,C) += dout (N,OC) @ weight (OC,C)
  if (dinp) gemm<T>(false, false, N, C, OC, T(1), dout, OC, weight, C, T(1), dinp, C);
  // dweight (OC,C) += dout^T (OC,N) @ inp (N,C)
  if (dweight) gemm<T>(true, false, OC, C, N, T(1), dout, OC, inp, C, T(1), dweight, C);
  if (dbias) {
    for (int64_t n = 0; n < N; ++n) {
      const T* d = dout + n * OC;
      for (int64_t o = 0; o < OC; ++o) dbias[o] += d[o];
    }
  }
}

#define BRAID_INSTANTIATE(T)                                                                                \
  template void matmul_forward<T>(T*, const T*, const T*, const T*, int64_t, int64_t, int64_t);            \
  template void matmul_backward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t, int64_t);
BRAID_INSTANTIATE(float)
BRAID_INSTANTIATE(double)

}  // namespace braid::ops
