#include "common/ops/cuda/context.h"

#include <cstdint>
#include <string>

#include "common/base/check.h"
#include "common/base/log.h"
#include "common/ops/cuda/check.h"

namespace braid::cuda {

namespace {
thread_local Context* t_current = nullptr;
}  // namespace

Status CudaError(cudaError_t e, const char* call, const char* file, int line) {
  return Status::Internal(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                          cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

Status CublasError(cublasStatus_t s, const char* call, const char* file, int line) {
  return Status::Internal(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": cuBLAS status " +
                          std::to_string(static_cast<int>(s)));
}

void RecordError(Status s) {
  Context* ctx = t_current;
  BRAID_CHECK_MSG(ctx != nullptr, "CUDA op called with no cuda::Context on this thread: %s", s.ToString().c_str());
  ctx->Record(std::move(s));
}

StatusOr<std::unique_ptr<Context>> Context::Create(int device, size_t workspace_bytes) {
  std::unique_ptr<Context> ctx(new Context());
  ctx->device_ = device;
  BRAID_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
  BRAID_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&ctx->sm_count_, cudaDevAttrMultiProcessorCount, device));
  // Tensors and op scratch come from the device's default pool
  // (cudaMallocAsync). Its release threshold defaults to 0: every stream
  // synchronisation (the loss fetch once per microbatch, checkpoints) would
  // hand all freed memory back to the driver, and the next step would map it
  // again. Keep it: the pool then serves a step's allocations from memory
  // the previous step freed.
  cudaMemPool_t pool = nullptr;
  BRAID_CUDA_RETURN_IF_ERROR(cudaDeviceGetDefaultMemPool(&pool, device));
  uint64_t keep_all = UINT64_MAX;
  BRAID_CUDA_RETURN_IF_ERROR(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep_all));
  BRAID_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&ctx->stream_, cudaStreamNonBlocking));
  BRAID_CUBLAS_RETURN_IF_ERROR(cublasLtCreate(&ctx->lt_));
  if (workspace_bytes > 0) {
    BRAID_CUDA_RETURN_IF_ERROR(cudaMalloc(&ctx->workspace_, workspace_bytes));
    ctx->workspace_bytes_ = workspace_bytes;
  }
  return ctx;
}

Context::~Context() {
  // Teardown: errors here cannot be returned, so they are logged; the stream
  // is drained first so no kernel outlives its buffers.
  const auto warn_if = [this](cudaError_t e, const char* call) {
    if (e != cudaSuccess) {
      LOG_WARN("cuda device %d: %s", device_, CudaError(e, call, __FILE__, __LINE__).ToString().c_str());
    }
  };
  if (device_ >= 0) warn_if(cudaSetDevice(device_), "cudaSetDevice(device)");
  if (stream_ != nullptr) warn_if(cudaStreamSynchronize(stream_), "cudaStreamSynchronize(stream)");
  if (workspace_ != nullptr) warn_if(cudaFree(workspace_), "cudaFree(workspace)");
  if (lt_ != nullptr) {
    const cublasStatus_t s = cublasLtDestroy(lt_);
    if (s != CUBLAS_STATUS_SUCCESS) {
      LOG_WARN("cuda device %d: %s", device_, CublasError(s, "cublasLtDestroy", __FILE__, __LINE__).ToString().c_str());
    }
  }
  if (stream_ != nullptr) warn_if(cudaStreamDestroy(stream_), "cudaStreamDestroy(stream)");
}

void Context::Record(Status s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (error_.ok()) error_ = std::move(s);
}

Status Context::TakeError() {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = std::move(error_);
  error_ = Status::Ok();
  return s;
}

Status Context::Synchronize() {
  const cudaError_t e = cudaStreamSynchronize(stream_);
  Status recorded = TakeError();
  if (!recorded.ok()) return recorded;
  if (e != cudaSuccess) return CudaError(e, "cudaStreamSynchronize(stream)", __FILE__, __LINE__);
  return Status::Ok();
}

Context* Current() { return t_current; }

ScopedContext::ScopedContext(Context* ctx) : prev_(t_current) {
  t_current = ctx;
  if (ctx != nullptr) BRAID_CUDA_CHECK(cudaSetDevice(ctx->device()));
}

ScopedContext::~ScopedContext() {
  t_current = prev_;
  if (prev_ != nullptr) BRAID_CUDA_CHECK(cudaSetDevice(prev_->device()));  // recorded in prev_
}

cudaStream_t CurrentStream() {
  Context* ctx = t_current;
  BRAID_CHECK_MSG(ctx != nullptr, "CUDA op called with no cuda::Context on this thread");
  return ctx->stream();
}

}  // namespace braid::cuda
