#include "common/worker/grad_allreduce.h"

#include "common/ops/backend.h"

namespace braid::worker {
namespace {

class GlooHostStaged : public GradAllReduce {
 public:
  explicit GlooHostStaged(DpGroup* dp) : dp_(dp) {}
  const char* name() const override { return "gloo-host-staged"; }

  Status Start(ParamBuffer&, const ParamBuffer::Bucket& range) override {
    queued_.push_back(range);
    return Status::Ok();
  }

  Status Finish(ParamBuffer& pb) override {
    const std::vector<ParamBuffer::Bucket> ranges = std::move(queued_);
    queued_.clear();
    if (ranges.empty()) return Status::Ok();
    std::vector<float> host = pb.GradsToHost();
    Status started;
    for (const ParamBuffer::Bucket& r : ranges) {
      Status s = dp_->StartAllReduceSum(host.data() + r.offset, r.numel);
      if (started.ok()) started = s;
    }
    Status waited = dp_->WaitAllReduces();
    RETURN_IF_ERROR(started);
    RETURN_IF_ERROR(waited);
    ops::CurrentDeviceMemory()->CopyFromHost(pb.grads_data(), host.data(), host.size() * sizeof(float));
    return Status::Ok();
  }

 private:
  DpGroup* dp_;
  std::vector<ParamBuffer::Bucket> queued_;
};

}  // namespace

std::unique_ptr<GradAllReduce> MakeGlooHostStagedAllReduce(DpGroup* dp) {
  return std::make_unique<GlooHostStaged>(dp);
}

}  // namespace braid::worker
