// The boundary tensors of CUDA ranks over NCCL send/recv (docs/NCCL.md,
// "Boundaries on the device"). Built with the CUDA backend only (library
// braid_worker_cuda); this header needs no CUDA headers.
#pragma once

#include <memory>

#include "common/base/status.h"
#include "common/comm/kv_store.h"
#include "common/worker/device_boundary.h"
#include "common/worker/dp_allreduce_choice.h"
#include "common/worker/rank_device.h"

namespace braid::worker {

// BRAID_BOUNDARY_P2P: "auto" (or unset/empty): NCCL where every rank of the
// job is on its own CUDA device, else host copies; "host": host copies
// (debugging); "nccl": NCCL or fail the rank. As DpAllReduceMode (host =
// kGloo). worker_main turns auto into host on a rank whose collectives are
// forced onto host copies (BRAID_DP_ALLREDUCE=gloo).
inline constexpr const char* kBoundaryP2pEnv = "BRAID_BOUNDARY_P2P";
StatusOr<DpAllReduceMode> BoundaryP2pModeFromEnv();

struct NcclBoundaryWorld {
  int worlds[kNumRoles] = {1, 1, 1};  // each module's rank count (its layout's world: dp x tp x pp)
  Role role = Role::kEncoder;
  int rank = 0;  // the module rank
  DpAllReduceMode mode = DpAllReduceMode::kAuto;
  double timeout_seconds = 60;
};

// Collective over every rank of the job: each calls it once, after
// ModuleRunner::UseDevice, with `device` current, on `kv` (the attempt's
// store, keys under "nccl/job/boundary/"). The ranks exchange their device
// ids and switches and choose alike: NCCL when all are on distinct CUDA
// devices and none asked for host copies. Then two communicators over the
// whole job, one per direction (device_boundary.h), and agreement on the
// outcome (all ranks take NCCL or none does). Returns the "nccl-device"
// boundary, or null on every rank alike (host copies; logged naming why).
// Errors: the store's (a rank never came); FailedPrecondition when this rank
// asked for nccl and it cannot be used.
StatusOr<std::unique_ptr<DeviceBoundary>> SetUpNcclDeviceBoundary(comm::KvStore& kv, RankDevice& device,
                                                                  const NcclBoundaryWorld& world);

}  // namespace braid::worker
