#include "common/worker/cuda_rank_device.h"

#include "common/ops/cuda/context.h"
#include "common/ops/cuda/cuda_backend.h"

namespace braid::worker {
namespace {

class CudaRankDevice : public RankDevice {
 public:
  explicit CudaRankDevice(std::unique_ptr<cuda::Context> ctx) : ctx_(std::move(ctx)), backend_(ctx_.get()) {}
  std::string kind() const override { return "cuda"; }
  std::unique_ptr<Scope> Enter() override { return std::make_unique<CudaScope>(ctx_.get(), backend_.backend()); }
  Status TakeError() override { return ctx_->TakeError(); }

 private:
  class CudaScope : public Scope {
   public:
    CudaScope(cuda::Context* ctx, ops::Backend b) : ctx_scope_(ctx), backend_scope_(b) {}

   private:
    cuda::ScopedContext ctx_scope_;
    ops::ScopedBackend backend_scope_;
  };
  std::unique_ptr<cuda::Context> ctx_;
  cuda::CudaBackend backend_;
};

}  // namespace

StatusOr<std::unique_ptr<RankDevice>> OpenCudaRankDevice(int device_index) {
  ASSIGN_OR_RETURN(std::unique_ptr<cuda::Context> ctx, cuda::Context::Create(device_index));
  return std::unique_ptr<RankDevice>(new CudaRankDevice(std::move(ctx)));
}

RankDeviceFactory CudaRankDeviceFactory(int device_index) {
  return [device_index](Role, int) { return OpenCudaRankDevice(device_index); };
}

}  // namespace braid::worker
