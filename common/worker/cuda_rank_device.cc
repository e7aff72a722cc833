#include "common/worker/cuda_rank_device.h"

#include "common/ops/cuda/context.h"
#include "common/ops/cuda/cuda_backend.h"

namespace braid::worker {
namespace {

class CudaRankDevice : public RankDevice {
 public:
  CudaRankDevice(std::unique_ptr<cuda::Context> ctx, cuda::Precision precision)
      : ctx_(std::move(ctx)), backend_(ctx_.get(), precision) {}
  std::string kind() const override { return "cuda"; }
  std::unique_ptr<Scope> Enter() override { return std::make_unique<CudaScope>(ctx_.get(), backend_.backend()); }
  Status TakeError() override { return ctx_->TakeError(); }
  cuda::Context* context() const { return ctx_.get(); }

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

StatusOr<std::unique_ptr<RankDevice>> OpenCudaRankDevice(int device_index, bool bf16) {
  ASSIGN_OR_RETURN(std::unique_ptr<cuda::Context> ctx, cuda::Context::Create(device_index));
  return std::unique_ptr<RankDevice>(new CudaRankDevice(
      std::move(ctx), bf16 ? cuda::Precision::kBf16Autocast : cuda::Precision::kFp32));
}

cuda::Context* CudaContextOf(RankDevice& device) {
  auto* d = dynamic_cast<CudaRankDevice*>(&device);
  return d ? d->context() : nullptr;
}

RankDeviceFactory CudaRankDeviceFactory(int device_index, bool bf16) {
  return [device_index, bf16](Role, int) { return OpenCudaRankDevice(device_index, bf16); };
}

}  // namespace braid::worker
