#include "common/worker/nccl_grad_allreduce.h"

#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>

#include "common/base/log.h"
#include "common/comm/nccl_comm.h"
#include "common/ops/cuda/check.h"
#include "common/worker/cuda_rank_device.h"

namespace braid::worker {

void AbortNcclComm(comm::NcclComm& c) {
  Status s = c.Abort();
  if (!s.ok()) LOG_WARN("nccl %s: abort: %s", c.name().c_str(), s.ToString().c_str());
}

StatusOr<std::string> CudaDeviceUuid(int device) {
  cudaDeviceProp prop;
  BRAID_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, device));
  std::string hex;
  for (char b : prop.uuid.bytes) {
    char two[3];
    std::snprintf(two, sizeof(two), "%02x", unsigned(static_cast<unsigned char>(b)));
    hex += two;
  }
  return hex;
}

namespace {

// The device gradients summed in place on the communicator's stream, range
// by range as the backward finishes them: each range's sum first waits (an
// event) for the compute stream's work so far, so it overlaps the backward
// of the layers still to come; Finish makes the compute stream wait (an
// event) for every sum before the clip and AdamW. Nothing waits on the host.
class NcclDevice : public GradAllReduce {
 public:
  explicit NcclDevice(std::unique_ptr<comm::NcclComm> comm) : comm_(std::move(comm)) {}
  const char* name() const override { return "nccl-device"; }

  Status Start(ParamBuffer& pb, const ParamBuffer::Bucket& r) override {
    RETURN_IF_ERROR(comm_->WaitForCompute());
    float* grads = pb.grads_data() + r.offset;
    return comm_->AllReduceSum(grads, grads, size_t(r.numel));
  }
  Status Finish(ParamBuffer&) override { return comm_->ComputeWaitsForComm(); }
  Status CheckAsync() override { return comm_->CheckAsync(); }
  void Abort() override { AbortNcclComm(*comm_); }

 private:
  std::unique_ptr<comm::NcclComm> comm_;
};


// The TP group's sums on the device: in place on the communicator's
// stream, after the compute stream's work so far (an event), and the
// compute stream waits for it (an event) before the next op. No host wait.
class NcclTpComm : public parallel::TpComm {
 public:
  explicit NcclTpComm(std::unique_ptr<comm::NcclComm> comm) : comm_(std::move(comm)) {}
  int size() const override { return comm_->size(); }
  int rank() const override { return comm_->rank(); }
  Status AllReduceSum(float* data, int64_t n) override {
    RETURN_IF_ERROR(comm_->WaitForCompute());
    RETURN_IF_ERROR(comm_->AllReduceSum(data, data, size_t(n)));
    return comm_->ComputeWaitsForComm();
  }
  void Abort() override { AbortNcclComm(*comm_); }

 private:
  std::unique_ptr<comm::NcclComm> comm_;
};

// The DP or TP group's communicator, or null on every rank alike.
StatusOr<std::unique_ptr<comm::NcclComm>> SetUpNcclGroupComm(comm::KvStore& kv, RankDevice& device,
                                                             const NcclDpGroup& g, const std::string& what) {
  NcclWorldsSetUp s;
  s.prefix = NcclDpGroupPrefix(g.role, g.group);
  s.worlds = {""};
  s.rank = g.rank;
  s.size = g.size;
  s.mode = g.mode;
  s.env = kDpAllReduceEnv;
  s.host_word = "gloo";
  s.what = what;
  s.who = g.role + " " + g.group + " rank " + std::to_string(g.rank) + " of " + std::to_string(g.size);
  s.timeout_seconds = g.timeout_seconds;
  ASSIGN_OR_RETURN(std::vector<std::unique_ptr<comm::NcclComm>> comms, SetUpNcclWorlds(kv, device, s));
  return comms.empty() ? nullptr : std::move(comms[0]);
}

}  // namespace

StatusOr<std::vector<std::unique_ptr<comm::NcclComm>>> SetUpNcclWorlds(comm::KvStore& kv, RankDevice& device,
                                                                       const NcclWorldsSetUp& s) {
  cuda::Context* ctx = CudaContextOf(device);
  DpMember me{s.mode, ctx ? device.kind() : device.kind() + " (no cuda context)", ""};
  if (ctx != nullptr) {
    ASSIGN_OR_RETURN(me.device_id, CudaDeviceUuid(ctx->device()));
  }
  ASSIGN_OR_RETURN(const std::vector<DpMember> members,
                   ExchangeDpMembers(kv, s.prefix, s.rank, s.size, me, s.timeout_seconds));
  DpAllReduceChoice choice = ChooseDpAllReduce(members);
  for (int r = 0; r < s.size; ++r)
    if (members[size_t(r)].mode == DpAllReduceMode::kGloo)
      choice = {false, "rank " + std::to_string(r) + " has " + s.env + "=" + s.host_word};

  std::vector<std::unique_ptr<comm::NcclComm>> comms;
  if (choice.nccl) {
    const auto timeout = std::chrono::milliseconds(int64_t(s.timeout_seconds * 1000));
    Status made;
    for (size_t w = 0; w < s.worlds.size() && made.ok(); ++w) {
      StatusOr<std::unique_ptr<comm::NcclComm>> c =
          comm::NcclComm::CreateWorld(kv, s.prefix + s.worlds[w], s.rank, s.size, *ctx, timeout);
      if (c.ok())
        comms.push_back(std::move(*c));
      else
        made = c.status();
    }
    // All ranks take NCCL or none does.
    ASSIGN_OR_RETURN(choice, AgreeOnNcclInit(kv, s.prefix, s.rank, s.size, made, s.timeout_seconds));
    if (!choice.nccl) {
      for (auto& c : comms) (void)c->Abort();
      comms.clear();
    }
  }
  if (!choice.nccl) {
    if (s.mode == DpAllReduceMode::kNccl)
      return Status::FailedPrecondition(s.what + " of " + s.who + ": " + s.env +
                                        "=nccl, but NCCL cannot be used: " + choice.why);
    if (s.mode != DpAllReduceMode::kGloo)
      LOG_WARN("%s of %s: host path fallback: %s", s.what.c_str(), s.who.c_str(), choice.why.c_str());
    else
      LOG_INFO("%s of %s: host path (%s)", s.what.c_str(), s.who.c_str(), choice.why.c_str());
    return comms;
  }
  LOG_INFO("%s of %s: nccl on cuda device %d (%s)", s.what.c_str(), s.who.c_str(), ctx->device(),
           choice.why.c_str());
  return comms;
}

StatusOr<std::unique_ptr<GradAllReduce>> SetUpNcclGradAllReduce(comm::KvStore& kv, RankDevice& device,
                                                                const NcclDpGroup& g) {
  ASSIGN_OR_RETURN(std::unique_ptr<comm::NcclComm> comm, SetUpNcclGroupComm(kv, device, g, "dp all-reduce"));
  if (!comm) return std::unique_ptr<GradAllReduce>();
  return std::unique_ptr<GradAllReduce>(std::make_unique<NcclDevice>(std::move(comm)));
}

StatusOr<std::unique_ptr<parallel::TpComm>> SetUpNcclTpComm(comm::KvStore& kv, RankDevice& device,
                                                            const NcclDpGroup& g) {
  ASSIGN_OR_RETURN(std::unique_ptr<comm::NcclComm> comm, SetUpNcclGroupComm(kv, device, g, "tp sums"));
  if (!comm) return std::unique_ptr<parallel::TpComm>();
  return std::unique_ptr<parallel::TpComm>(std::make_unique<NcclTpComm>(std::move(comm)));
}

}  // namespace braid::worker
