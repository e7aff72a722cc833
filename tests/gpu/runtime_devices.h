// CUDA devices for the in-process runtime's GPU tests (nccl_runtime_test,
// nccl_boundary_test).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <thread>
#include <vector>

#include "common/gpu/device.h"
#include "common/worker/cuda_rank_device.h"
#include "tests/worker_device_run.h"

namespace braid::worker::device_run {

// The NCCL runtime tests' runs: their steps, the per-step loss bound
// against the CPU run (relative, as gpu_runtime_equivalence_test's), and
// the NCCL setups' timeout.
inline constexpr int kNcclSteps = 6;
inline constexpr double kNcclLossBound = 1e-3;
inline constexpr double kNcclTimeoutSeconds = 60;

// The CUDA devices present (0, and a test failure, when counting fails).
inline int CudaDeviceCount() {
  StatusOr<int> n = gpu::DeviceCount();
  EXPECT_TRUE(n.ok()) << n.status().ToString();
  return n.ok() ? *n : 0;
}

// Job rank i (the encoder's ranks, then the LLM's, then the generator's) on
// device i mod `devices`: a DP group's ranks are consecutive, so distinct
// when dp <= devices; every rank distinct when the job's ranks <= devices.
inline RankDeviceFactory RoundRobinCuda(const Layouts& l, int devices) {
  return [l, devices](Role role, int rank) {
    int index = rank;
    for (int r = 0; r < int(role); ++r) index += l[size_t(r)].world();
    return OpenCudaRankDevice(index % devices);
  };
}

// Runs `setup(rank, device)` on `ranks` threads at once (a collective
// setup blocks until its group joins), each with CUDA device 0 opened and
// current; returns each rank's status.
inline std::vector<Status> OnSharedGpu(int ranks, const std::function<Status(int, RankDevice&)>& setup) {
  std::vector<Status> got(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      StatusOr<std::unique_ptr<RankDevice>> dev = OpenCudaRankDevice(0);
      if (!dev.ok()) {
        got[size_t(r)] = dev.status();
        return;
      }
      std::unique_ptr<RankDevice::Scope> scope = (*dev)->Enter();
      got[size_t(r)] = setup(r, **dev);
    });
  }
  for (auto& t : threads) t.join();
  return got;
}

}  // namespace braid::worker::device_run
