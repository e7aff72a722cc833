// The boundary tensors of CUDA ranks over NCCL send/recv (docs/NCCL.md,
// "Boundaries on the device"): the in-process runtime (every rank a thread
// running the real ModuleRunner) with each rank on a CUDA context and the
// job's boundary world set up as the workers do (SetUpNcclDeviceBoundary
// through a rendezvous store).
//   - 3+ GPUs (every rank of layout 1/1/1 on its own): every rank takes the
//     NCCL boundary (asserted by name); the run follows the CPU run and
//     equals the host-copy run on the same devices bit for bit (a transfer
//     is a copy either way). ctest runs it as gpu_nccl_boundary_distinct_test,
//     skipped with fewer than 3 devices.
//   - 1 GPU: ranks sharing the GPU all take host copies (asserted), and
//     asking for nccl fails the setup naming the shared device.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/comm/kv_store.h"
#include "common/gpu/device.h"
#include "common/worker/cuda_rank_device.h"
#include "common/worker/nccl_device_boundary.h"
#include "tests/gpu/runtime_devices.h"

namespace braid::worker {
namespace {

using device_run::Layouts;
using device_run::RoundRobinCuda;
using device_run::CudaDeviceCount;
using device_run::kNcclLossBound;
using device_run::kNcclSteps;
using device_run::kNcclTimeoutSeconds;

device_run::RankSetup BoundarySetup(const Layouts& l, comm::KvStore* kv, DpAllReduceMode mode) {
  return [l, kv, mode](ModuleRunner& mr, DpGroup&) -> Status {
    NcclBoundaryWorld w;
    for (int r = 0; r < kNumRoles; ++r) w.worlds[r] = l[size_t(r)].world();
    w.role = mr.role();
    w.rank = mr.rank();
    w.mode = mode;
    w.timeout_seconds = kNcclTimeoutSeconds;
    ASSIGN_OR_RETURN(std::unique_ptr<DeviceBoundary> b, SetUpNcclDeviceBoundary(*kv, *mr.device(), w));
    if (b) mr.UseDeviceBoundary(std::move(b));
    return Status::Ok();
  };
}

void ExpectBoundaries(const device_run::Run& run, const std::string& name) {
  ASSERT_EQ(run.boundary.size(), run.modules.size());
  for (size_t i = 0; i < run.boundary.size(); ++i)
    EXPECT_EQ(run.boundary[i], name) << run.modules[i] << " runner " << i;
}

TEST(GpuNcclBoundary, Layout111OnDistinctGpusSendsDeviceToDevice) {
  const Layouts layouts = {parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}};
  const int devices = CudaDeviceCount();
  // ctest runs this case as gpu_nccl_boundary_distinct_test, skipped below 3 devices.
  ASSERT_GE(devices, 3) << "every rank of layout 1/1/1 on its own GPU needs 3 CUDA devices, " << devices
                        << " present";
  const JobConfig cfg = device_run::WithLayouts(device_run::TestJob(kNcclSteps), layouts);
  const device_run::Run cpu = device_run::RunInProc(cfg, nullptr);
  comm::InMemoryKvStore store;
  comm::PrefixKvStore kv(&store, "job/attempt-1/");
  const device_run::Run nccl =
      device_run::RunInProc(cfg, RoundRobinCuda(layouts, devices),
                            BoundarySetup(layouts, &kv, DpAllReduceMode::kNccl));
  const device_run::Run host = device_run::RunInProc(cfg, RoundRobinCuda(layouts, devices));
  ExpectBoundaries(nccl, "nccl-device");
  ExpectBoundaries(host, "");
  ASSERT_EQ(nccl.losses.size(), size_t(kNcclSteps));
  ASSERT_EQ(cpu.losses.size(), size_t(kNcclSteps));
  for (size_t s = 0; s < nccl.losses.size(); ++s) {
    EXPECT_LE(std::abs(nccl.losses[s] - cpu.losses[s]) / std::abs(cpu.losses[s]), kNcclLossBound)
        << "step " << s;
    EXPECT_EQ(nccl.losses[s], host.losses[s]) << "step " << s << ": nccl boundaries vs host copies";
  }
  EXPECT_EQ(nccl.params, host.params) << "nccl boundaries vs host copies: final params differ";
  std::printf("NCCL boundaries exercised: layout 1/1/1 on %d CUDA devices\n", devices);
}

TEST(GpuNcclBoundary, RanksSharingAGpuUseHostCopies) {
  const Layouts layouts = {parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}};
  const JobConfig cfg = device_run::WithLayouts(device_run::TestJob(2), layouts);
  comm::InMemoryKvStore kv;
  const device_run::Run gpu =
      device_run::RunInProc(cfg, RoundRobinCuda(layouts, 1), BoundarySetup(layouts, &kv, DpAllReduceMode::kAuto));
  ASSERT_EQ(gpu.losses.size(), size_t(2));
  ExpectBoundaries(gpu, "");
}

TEST(GpuNcclBoundary, NcclRequestedOnASharedGpuFails) {
  comm::InMemoryKvStore kv;
  const std::vector<Status> got = device_run::OnSharedGpu(kNumRoles, [&](int r, RankDevice& dev) {
    NcclBoundaryWorld w;  // layout 1/1/1: one rank per module
    w.role = Role(r);
    w.mode = DpAllReduceMode::kNccl;
    w.timeout_seconds = kNcclTimeoutSeconds;
    return SetUpNcclDeviceBoundary(kv, dev, w).status();
  });
  for (const Status& s : got) {
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("BRAID_BOUNDARY_P2P=nccl"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("share cuda device"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace braid::worker
