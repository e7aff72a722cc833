// Error checks for every CUDA runtime, cuBLAS(Lt) and kernel-launch call
// (docs/GPU.md, "Checked everywhere").
//
// Functions that return a Status use the *_RETURN_IF_ERROR forms. The ops
// return void, like their CPU twins, so inside an op a failed call is
// recorded in the calling thread's cuda::Context (first error wins) with
// BRAID_CUDA_CHECK / BRAID_CUBLAS_CHECK / BRAID_CUDA_CHECK_LAUNCH; the module
// runner collects it with Context::TakeError() at op boundaries (after each
// forward, backward and optimizer step), the same way TpContext reports a
// failed collective. Nothing here synchronises the device.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "common/base/status.h"

namespace braid::cuda {

// "cudaMalloc(&p, n) failed at common/ops/cuda/x.cc:12: cudaErrorMemoryAllocation (out of memory)".
Status CudaError(cudaError_t e, const char* call, const char* file, int line);
Status CublasError(cublasStatus_t s, const char* call, const char* file, int line);

// Records `s` into the calling thread's current Context (the first error is
// kept). With no current Context, an op was called outside a device scope:
// a programmer bug, which aborts with the message.
void RecordError(Status s);

}  // namespace braid::cuda

#define BRAID_CUDA_RETURN_IF_ERROR(call)                                        \
  do {                                                                          \
    const cudaError_t braid_cuda_e_ = (call);                                   \
    if (braid_cuda_e_ != cudaSuccess)                                           \
      return ::braid::cuda::CudaError(braid_cuda_e_, #call, __FILE__, __LINE__); \
  } while (0)

#define BRAID_CUBLAS_RETURN_IF_ERROR(call)                                          \
  do {                                                                              \
    const cublasStatus_t braid_cublas_s_ = (call);                                  \
    if (braid_cublas_s_ != CUBLAS_STATUS_SUCCESS)                                   \
      return ::braid::cuda::CublasError(braid_cublas_s_, #call, __FILE__, __LINE__); \
  } while (0)

#define BRAID_CUDA_CHECK(call)                                                                   \
  do {                                                                                           \
    const cudaError_t braid_cuda_e_ = (call);                                                    \
    if (braid_cuda_e_ != cudaSuccess)                                                            \
      ::braid::cuda::RecordError(::braid::cuda::CudaError(braid_cuda_e_, #call, __FILE__, __LINE__)); \
  } while (0)

#define BRAID_CUBLAS_CHECK(call)                                                                       \
  do {                                                                                                 \
    const cublasStatus_t braid_cublas_s_ = (call);                                                     \
    if (braid_cublas_s_ != CUBLAS_STATUS_SUCCESS)                                                      \
      ::braid::cuda::RecordError(::braid::cuda::CublasError(braid_cublas_s_, #call, __FILE__, __LINE__)); \
  } while (0)

// After every kernel launch: `name` names the kernel in the error.
#define BRAID_CUDA_CHECK_LAUNCH(name)                                                             \
  do {                                                                                            \
    const cudaError_t braid_cuda_e_ = cudaGetLastError();                                         \
    if (braid_cuda_e_ != cudaSuccess)                                                             \
      ::braid::cuda::RecordError(::braid::cuda::CudaError(braid_cuda_e_, "launch " name, __FILE__, __LINE__)); \
  } while (0)
