#include "common/ops/cuda/matmul.h"

#include <cstdint>
#include <string>

#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/cuda/gemm_plan.h"
#include "common/ops/cuda/lt_matmul.h"
#include "common/ops/cuda/rows.h"

namespace braid::ops::cuda {
namespace {

using braid::cuda::bf16;
using braid::cuda::FromFloat;
using braid::cuda::GridFor;
using braid::cuda::ToFloat;

template <typename T>
constexpr cudaDataType_t kCudaType = CUDA_R_32F;
template <>
constexpr cudaDataType_t kCudaType<bf16> = CUDA_R_16BF;

// K = 0: the product is empty, so C = beta * C (+ bias per column), C not
// read when beta is 0 (as BLAS does).
template <typename CT>
__global__ void EmptyProductKernel(CT* c, int64_t M, int64_t N, int64_t ldc, float beta, const CT* bias) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < M * N; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / N, col = i % N;
    CT* p = c + r * ldc + col;
    const float prev = beta == 0.f ? 0.f : beta * ToFloat(*p);
    *p = FromFloat<CT>(prev + (bias != nullptr ? ToFloat(bias[col]) : 0.f));
  }
}

// dbias[o] += sum_n dout[n*OC + o]. A block owns kColumns columns; its
// kRowLanes rows of threads each sum every kRowLanes-th row in order, then
// one thread per column adds the lanes' partials in lane order. The order
// depends only on (N, OC): deterministic, no atomics.
constexpr int kColumns = 32;
constexpr int kRowLanes = 32;

template <typename T, typename G>
__global__ void ColumnSumAccumulateKernel(G* dbias, const T* dout, int64_t N, int64_t OC) {
  __shared__ float partial[kRowLanes][kColumns + 1];
  const int64_t col = int64_t{blockIdx.x} * kColumns + threadIdx.x;
  float sum = 0.f;
  if (col < OC)
    for (int64_t n = threadIdx.y; n < N; n += kRowLanes) sum += ToFloat(dout[n * OC + col]);
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < OC) {
    float total = 0.f;
    for (int lane = 0; lane < kRowLanes; ++lane) total += partial[lane][threadIdx.x];
    dbias[col] = FromFloat<G>(ToFloat(dbias[col]) + total);
  }
}

// The row-major GEMM with A, B of type AB and C of type CT (bias, when not
// null, of CT with N entries: one per column of C).
template <typename AB, typename CT>
void RowMajorGemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const AB* A, int64_t lda,
                  const AB* B, int64_t ldb, float beta, CT* Cm, int64_t ldc, const CT* bias) {
  const std::string invalid = ValidateRowMajor(trans_a, trans_b, M, N, K, lda, ldb, ldc);
  if (!invalid.empty()) {
    braid::cuda::RecordError(Status::InvalidArgument("CUDA gemm: " + invalid));
    return;
  }
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (beta == 1.f && bias == nullptr) return;
    constexpr int kThreads = 256;
    EmptyProductKernel<CT>
        <<<GridFor(M * N, kThreads), kThreads, 0, braid::cuda::CurrentStream()>>>(Cm, M, N, ldc, beta, bias);
    BRAID_CUDA_CHECK_LAUNCH("EmptyProductKernel");
    return;
  }
  const ColMajorGemm g = FromRowMajor(trans_a, trans_b, M, N, K, lda, ldb, ldc);
  LtMatmulArgs x;
  x.trans_a = g.trans_a;
  x.trans_b = g.trans_b;
  x.m = g.m;
  x.n = g.n;
  x.k = g.k;
  x.a = B;  // operands swapped (gemm_plan.h)
  x.lda = g.lda;
  x.b = A;
  x.ldb = g.ldb;
  x.c = Cm;
  x.ldc = g.ldc;
  x.ab_type = kCudaType<AB>;
  x.c_type = kCudaType<CT>;
  x.alpha = alpha;
  x.beta = beta;
  x.bias = bias;
  LtMatmul(x);
}

}  // namespace

// The bias is fused into the GEMM (CUBLASLT_EPILOGUE_BIAS) only when it is
// 16-byte aligned. Parameter views are packed at float offsets, so a bias is
// often only 4-byte aligned, and cuBLASLt documents no alignment that its
// bias epilogues accept (its matmul preferences have no bias alignment, and
// epilogue kernels have been seen to need 8 or 16 bytes). A less aligned bias
// is added by a separate pass (rows.h's add_bias).
constexpr uint32_t kFusedBiasAlignment = 16;

template <typename T>
void matmul_forward(T* out, const T* inp, const T* weight, const T* bias, int64_t N, int64_t C, int64_t OC) {
  if (N == 0) return;
  // out (N,OC) = inp (N,C) @ weight^T (C,OC) + bias
  const bool fuse =
      bias == nullptr || C == 0 || PointerAlignment(reinterpret_cast<uintptr_t>(bias)) >= kFusedBiasAlignment;
  RowMajorGemm<T, T>(false, true, N, OC, C, 1.f, inp, C, weight, C, 0.f, out, OC, fuse ? bias : nullptr);
  if (!fuse) add_bias<T>(out, bias, N, OC);
}

template <typename T, typename G>
void matmul_backward(T* dinp, typename detail::NonDeduced<G>::type* dweight,
                     typename detail::NonDeduced<G>::type* dbias, const T* dout, const T* inp, const T* weight,
                     int64_t N, int64_t C, int64_t OC) {
  if (N == 0) return;
  // dinp (N,C) += dout (N,OC) @ weight (OC,C)
  if (dinp != nullptr) RowMajorGemm<T, T>(false, false, N, C, OC, 1.f, dout, OC, weight, C, 1.f, dinp, C, nullptr);
  // dweight (OC,C) += dout^T (OC,N) @ inp (N,C)
  if (dweight != nullptr) RowMajorGemm<T, G>(true, false, OC, C, N, 1.f, dout, OC, inp, C, 1.f, dweight, C, nullptr);
  if (dbias != nullptr && OC > 0) {
    const dim3 block(kColumns, kRowLanes);
    const unsigned blocks = static_cast<unsigned>((OC + kColumns - 1) / kColumns);
    ColumnSumAccumulateKernel<T, G><<<blocks, block, 0, braid::cuda::CurrentStream()>>>(dbias, dout, N, OC);
    BRAID_CUDA_CHECK_LAUNCH("ColumnSumAccumulateKernel");
  }
}

void matmul_forward_mixed(float* out, const bf16* inp, const bf16* weight, const float* bias, int64_t N, int64_t C,
                          int64_t OC) {
  if (N == 0) return;
  const bool fuse =
      bias == nullptr || C == 0 || PointerAlignment(reinterpret_cast<uintptr_t>(bias)) >= kFusedBiasAlignment;
  RowMajorGemm<bf16, float>(false, true, N, OC, C, 1.f, inp, C, weight, C, 0.f, out, OC, fuse ? bias : nullptr);
  if (!fuse) add_bias<float>(out, bias, N, OC);
}

void matmul_backward_mixed(float* dinp, float* dweight, const bf16* dout, const bf16* inp, const bf16* weight,
                           int64_t N, int64_t C, int64_t OC) {
  if (N == 0) return;
  if (dinp != nullptr)
    RowMajorGemm<bf16, float>(false, false, N, C, OC, 1.f, dout, OC, weight, C, 1.f, dinp, C, nullptr);
  if (dweight != nullptr)
    RowMajorGemm<bf16, float>(true, false, OC, C, N, 1.f, dout, OC, inp, C, 1.f, dweight, C, nullptr);
}

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, float beta, T* Cm, int64_t ldc) {
  RowMajorGemm<T, T>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, Cm, ldc, nullptr);
}

template void matmul_forward<float>(float*, const float*, const float*, const float*, int64_t, int64_t, int64_t);
template void matmul_forward<bf16>(bf16*, const bf16*, const bf16*, const bf16*, int64_t, int64_t, int64_t);
template void matmul_backward<float, float>(float*, float*, float*, const float*, const float*, const float*, int64_t,
                                            int64_t, int64_t);
template void matmul_backward<bf16, bf16>(bf16*, bf16*, bf16*, const bf16*, const bf16*, const bf16*, int64_t, int64_t,
                                          int64_t);
template void matmul_backward<bf16, float>(bf16*, float*, float*, const bf16*, const bf16*, const bf16*, int64_t,
                                           int64_t, int64_t);
template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<bf16>(bool, bool, int64_t, int64_t, int64_t, float, const bf16*, int64_t, const bf16*, int64_t,
                         float, bf16*, int64_t);

}  // namespace braid::ops::cuda
