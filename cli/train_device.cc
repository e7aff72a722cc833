#include "cli/train_device.h"

#include "common/gpu/device.h"

#if defined(BRAID_HAVE_CUDA)
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/cuda_backend.h"
#endif

namespace braid::cli {

#if defined(BRAID_HAVE_CUDA)
namespace {

class CudaTrainDevice : public TrainDevice {
 public:
  CudaTrainDevice(std::unique_ptr<cuda::Context> ctx, std::string name, cuda::Precision precision)
      : ctx_(std::move(ctx)),
        scope_(ctx_.get()),
        backend_(ctx_.get(), precision),
        ops_backend_(backend_.backend()),
        name_(std::move(name)),
        bf16_(precision == cuda::Precision::kBf16Autocast) {}
  void Attach(train::TrainOptions* opt) override {
    opt->backend = &ops_backend_;
    opt->check_device = [this] { return ctx_->TakeError(); };
  }
  std::string Describe() const override {
    return "cuda device 0: " + name_ + (bf16_ ? ", bf16 autocast" : ", fp32");
  }

 private:
  std::unique_ptr<cuda::Context> ctx_;
  cuda::ScopedContext scope_;  // the trainer runs on this thread
  cuda::CudaBackend backend_;
  ops::Backend ops_backend_;
  std::string name_;
  bool bf16_;
};

}  // namespace
#endif

StatusOr<std::unique_ptr<TrainDevice>> OpenTrainDevice(const JobConfig& cfg) {
  if (cfg.device != "cuda") return std::unique_ptr<TrainDevice>();
  if (Status s = gpu::CheckDevice(0); !s.ok()) return Status::FailedPrecondition("device: cuda: " + s.message());
#if defined(BRAID_HAVE_CUDA)
  ASSIGN_OR_RETURN(std::string name, gpu::DeviceName(0));
  ASSIGN_OR_RETURN(std::unique_ptr<cuda::Context> ctx, cuda::Context::Create(0));
  const cuda::Precision precision =
      cfg.precision == "bf16" ? cuda::Precision::kBf16Autocast : cuda::Precision::kFp32;
  return std::unique_ptr<TrainDevice>(new CudaTrainDevice(std::move(ctx), name, precision));
#else
  return Status::FailedPrecondition("device: cuda: this build of braid has no CUDA backend");
#endif
}

}  // namespace braid::cli
