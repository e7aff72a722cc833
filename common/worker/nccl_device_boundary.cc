#include "common/worker/nccl_device_boundary.h"

#include <chrono>
#include <cstdlib>
#include <string>

#include "common/base/log.h"
#include "common/comm/nccl_comm.h"
#include "common/worker/cuda_rank_device.h"
#include "common/worker/nccl_grad_allreduce.h"

namespace braid::worker {
namespace {

constexpr int kDirections = 2;

// Each direction on its own communicator (and stream): a send waiting for
// its receiver never holds up traffic the other way (device_boundary.h).
// Two ranks never send to each other on one communicator (forward flows
// encoder -> LLM -> generator, backward the reverse), so no send/recv pair
// needs grouping.
class NcclDeviceBoundary : public DeviceBoundary {
 public:
  NcclDeviceBoundary(const int worlds[kNumRoles], std::unique_ptr<comm::NcclComm> fwd,
                     std::unique_ptr<comm::NcclComm> bwd) {
    for (int r = 0; r < kNumRoles; ++r) worlds_[r] = worlds[r];
    comm_[int(BoundaryDirection::kForward)] = std::move(fwd);
    comm_[int(BoundaryDirection::kBackward)] = std::move(bwd);
  }
  const char* name() const override { return "nccl-device"; }

  Status Send(Role dst_role, int dst_rank, const BoundaryKey& key, const float* data, int64_t n) override {
    comm::NcclComm& c = Comm(key);
    RETURN_IF_ERROR(Named(c.WaitForCompute(), key));
    return Named(c.Send(data, size_t(n), JobWorldRank(worlds_, dst_role, dst_rank)), key);
  }
  Status Recv(Role src_role, int src_rank, const BoundaryKey& key, float* data, int64_t n) override {
    comm::NcclComm& c = Comm(key);
    RETURN_IF_ERROR(Named(c.WaitForCompute(), key));  // earlier readers of `data` are done
    RETURN_IF_ERROR(Named(c.Recv(data, size_t(n), JobWorldRank(worlds_, src_role, src_rank)), key));
    return Named(c.ComputeWaitsForComm(), key);
  }
  Status Flush() override {
    for (auto& c : comm_) RETURN_IF_ERROR(c->ComputeWaitsForComm());
    return Status::Ok();
  }
  Status CheckAsync() override {
    for (auto& c : comm_) RETURN_IF_ERROR(c->CheckAsync());
    return Status::Ok();
  }
  void Abort() override {
    for (auto& c : comm_) {
      Status s = c->Abort();
      if (!s.ok()) LOG_WARN("nccl %s: abort: %s", c->name().c_str(), s.ToString().c_str());
    }
  }

 private:
  comm::NcclComm& Comm(const BoundaryKey& key) { return *comm_[int(DirectionOf(key.kind))]; }
  static Status Named(Status s, const BoundaryKey& key) {
    if (s.ok()) return s;
    return Status(s.code(), "boundary " + key.ToString() + ": " + s.message());
  }
  int worlds_[kNumRoles] = {0, 0, 0};
  std::unique_ptr<comm::NcclComm> comm_[kDirections];
};

}  // namespace

StatusOr<DpAllReduceMode> ParseBoundaryP2pMode(std::string_view text) {
  if (text.empty() || text == "auto") return DpAllReduceMode::kAuto;
  if (text == "host") return DpAllReduceMode::kGloo;
  if (text == "nccl") return DpAllReduceMode::kNccl;
  return Status::InvalidArgument(std::string(kBoundaryP2pEnv) + "='" + std::string(text) +
                                 "': expected auto, host or nccl");
}

StatusOr<DpAllReduceMode> BoundaryP2pModeFromEnv() {
  const char* v = std::getenv(kBoundaryP2pEnv);
  return ParseBoundaryP2pMode(v == nullptr ? "" : v);
}

StatusOr<std::unique_ptr<DeviceBoundary>> SetUpNcclDeviceBoundary(comm::KvStore& kv, RankDevice& device,
                                                                  const NcclBoundaryWorld& w) {
  const std::string prefix = NcclDpGroupPrefix("job", "boundary");
  int size = 0;
  for (int r = 0; r < kNumRoles; ++r) size += w.worlds[r];
  const int me_rank = JobWorldRank(w.worlds, w.role, w.rank);
  const std::string who = std::string(RoleName(w.role)) + " rank " + std::to_string(w.rank) + " (job rank " +
                          std::to_string(me_rank) + " of " + std::to_string(size) + ")";
  cuda::Context* ctx = CudaContextOf(device);
  DpMember me{w.mode, ctx ? device.kind() : device.kind() + " (no cuda context)", ""};
  if (ctx != nullptr) {
    ASSIGN_OR_RETURN(me.device_id, CudaDeviceUuid(ctx->device()));
  }
  ASSIGN_OR_RETURN(const std::vector<DpMember> members,
                   ExchangeDpMembers(kv, prefix, me_rank, size, me, w.timeout_seconds));
  DpAllReduceChoice choice = ChooseDpAllReduce(members);
  for (int r = 0; r < size; ++r)
    if (members[size_t(r)].mode == DpAllReduceMode::kGloo)
      choice = {false, "job rank " + std::to_string(r) + " has " + kBoundaryP2pEnv + "=host (or " +
                           kDpAllReduceEnv + "=gloo)"};

  std::unique_ptr<comm::NcclComm> comms[kDirections];
  if (choice.nccl) {
    const auto timeout = std::chrono::milliseconds(int64_t(w.timeout_seconds * 1000));
    Status made;
    for (int d = 0; d < kDirections && made.ok(); ++d) {
      StatusOr<std::unique_ptr<comm::NcclComm>> c = comm::NcclComm::CreateWorld(
          kv, prefix + (d == 0 ? "fwd/" : "bwd/"), me_rank, size, *ctx, timeout);
      if (c.ok())
        comms[d] = std::move(*c);
      else
        made = c.status();
    }
    // All ranks take NCCL or none does.
    ASSIGN_OR_RETURN(choice, AgreeOnNcclInit(kv, prefix, me_rank, size, made, w.timeout_seconds));
    if (!choice.nccl)
      for (auto& c : comms)
        if (c) {
          (void)c->Abort();
          c.reset();
        }
  }
  if (!choice.nccl) {
    if (w.mode == DpAllReduceMode::kNccl)
      return Status::FailedPrecondition("boundaries of " + who + ": " + kBoundaryP2pEnv +
                                        "=nccl, but NCCL cannot be used: " + choice.why);
    LOG_INFO("boundaries of %s: host copies (%s)", who.c_str(), choice.why.c_str());
    return std::unique_ptr<DeviceBoundary>();
  }
  LOG_INFO("boundaries of %s: nccl send/recv on cuda device %d (%s)", who.c_str(), ctx->device(),
           choice.why.c_str());
  return std::unique_ptr<DeviceBoundary>(
      std::make_unique<NcclDeviceBoundary>(w.worlds, std::move(comms[0]), std::move(comms[1])));
}

}  // namespace braid::worker
