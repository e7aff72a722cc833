#include "common/worker/nccl_device_boundary.h"

#include <chrono>
#include <cstdlib>
#include <string>

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
    for (auto& c : comm_) AbortNcclComm(*c);
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

StatusOr<DpAllReduceMode> BoundaryP2pModeFromEnv() { return NcclSwitchFromEnv(kBoundaryP2pEnv, "host"); }

StatusOr<std::unique_ptr<DeviceBoundary>> SetUpNcclDeviceBoundary(comm::KvStore& kv, RankDevice& device,
                                                                  const NcclBoundaryWorld& w) {
  NcclWorldsSetUp s;
  s.prefix = NcclDpGroupPrefix("job", "boundary");
  s.worlds = {"fwd/", "bwd/"};  // one communicator per direction
  s.size = 0;
  for (int r = 0; r < kNumRoles; ++r) s.size += w.worlds[r];
  s.rank = JobWorldRank(w.worlds, w.role, w.rank);
  s.mode = w.mode;
  s.env = kBoundaryP2pEnv;
  s.host_word = "host";
  s.what = "boundaries";
  s.who = std::string(RoleName(w.role)) + " rank " + std::to_string(w.rank) + " (job rank " +
          std::to_string(s.rank) + " of " + std::to_string(s.size) + ")";
  s.timeout_seconds = w.timeout_seconds;
  ASSIGN_OR_RETURN(std::vector<std::unique_ptr<comm::NcclComm>> comms, SetUpNcclWorlds(kv, device, s));
  if (comms.empty()) return std::unique_ptr<DeviceBoundary>();
  return std::unique_ptr<DeviceBoundary>(
      std::make_unique<NcclDeviceBoundary>(w.worlds, std::move(comms[0]), std::move(comms[1])));
}

}  // namespace braid::worker
