// The DP gradient all-reduce of CUDA ranks over NCCL (docs/NCCL.md, "DP
// all-reduce in the runtime (as built)"): the in-process runtime (every rank
// a thread running the real ModuleRunner) with each rank on a CUDA context
// and each DP group set up as a worker does (SetUpNcclGradAllReduce through
// a rendezvous store).
//   - 2+ GPUs: DP groups whose ranks sit on distinct GPUs take NCCL (asserted
//     by name), follow the CPU run, and equal the host-staged Gloo run on the
//     same devices bit for bit (dp 2: one fp32 add per element either way).
//     ctest runs these as gpu_nccl_runtime_distinct_test, skipped with fewer
//     than 2 devices.
//   - 1 GPU: ranks sharing the GPU take the host-staged Gloo path (asserted),
//     and asking for nccl fails the setup naming the shared device.
#include <gtest/gtest.h>

#include <cstdio>
#include <mutex>

#include "common/comm/kv_store.h"
#include "common/gpu/device.h"
#include "common/worker/cuda_rank_device.h"
#include "common/worker/nccl_grad_allreduce.h"
#include "tests/gpu/runtime_devices.h"

namespace braid::worker {
namespace {

using device_run::Layouts;
using device_run::RoundRobinCuda;
using device_run::CudaDeviceCount;
using device_run::kNcclLossBound;
using device_run::kNcclSteps;
using device_run::kNcclTimeoutSeconds;
constexpr double kParamsBound = 5e-3;  // L2 relative, final params

int DpOf(const JobConfig& cfg, Role role) {
  switch (role) {
    case Role::kEncoder: return cfg.parallel.encoder.dp;
    case Role::kLlm: return cfg.parallel.llm.dp;
    case Role::kGenerator: return cfg.parallel.generator.dp;
  }
  return 1;
}

// What worker_main does after UseDevice, on one store per run (a fresh
// attempt prefix).
device_run::RankSetup NcclSetup(const JobConfig& cfg, comm::KvStore* kv, DpAllReduceMode mode) {
  return [cfg, kv, mode](ModuleRunner& mr, DpGroup&) -> Status {
    const int dp = DpOf(cfg, mr.role());
    if (dp < 2) return Status::Ok();
    ASSIGN_OR_RETURN(std::unique_ptr<GradAllReduce> g,
                     SetUpNcclGradAllReduce(*kv, *mr.device(),
                                            {RoleName(mr.role()), "dp-t0-p0", mr.coord().dp, dp, mode,
                                             kNcclTimeoutSeconds}));
    if (g) mr.UseGradAllReduce(std::move(g));
    return Status::Ok();
  };
}

// Every runner of a module with dp > 1 took `path`; the others none.
void ExpectPaths(const device_run::Run& run, const JobConfig& cfg, const std::string& path) {
  ASSERT_EQ(run.allreduce.size(), run.modules.size());
  for (size_t i = 0; i < run.modules.size(); ++i) {
    const Role role = run.modules[i] == std::string("encoder") ? Role::kEncoder
                      : run.modules[i] == std::string("llm")   ? Role::kLlm
                                                               : Role::kGenerator;
    EXPECT_EQ(run.allreduce[i], DpOf(cfg, role) > 1 ? path : "") << run.modules[i] << " runner " << i;
  }
}

// Loss by loss and final params against the CPU run of the same layout.
void ExpectFollowsCpu(const device_run::Run& gpu, const device_run::Run& cpu, const std::string& what) {
  ASSERT_EQ(gpu.losses.size(), size_t(kNcclSteps)) << what;
  ASSERT_EQ(cpu.losses.size(), size_t(kNcclSteps)) << what;
  for (size_t s = 0; s < gpu.losses.size(); ++s) {
    const double rel = std::abs(gpu.losses[s] - cpu.losses[s]) / std::abs(cpu.losses[s]);
    EXPECT_LE(rel, kNcclLossBound) << what << " step " << s << ": cuda " << gpu.losses[s] << " vs cpu " << cpu.losses[s];
  }
  EXPECT_LT(gpu.losses.back(), gpu.losses.front()) << what << ": it trains";
  ASSERT_EQ(gpu.params.size(), cpu.params.size()) << what;
  for (size_t i = 0; i < gpu.params.size(); ++i) {
    EXPECT_TRUE(gpu.on_device[i]) << what << " " << gpu.modules[i] << " runner " << i;
    const double d = testing_util::L2RelDiff(gpu.params[i], cpu.params[i]);
    EXPECT_LE(d, kParamsBound) << what << " " << gpu.modules[i] << " runner " << i << " params rel diff " << d;
  }
}

void RunDistinctGpus(const Layouts& layouts) {
  const int devices = CudaDeviceCount();
  int widest = 1;
  for (const parallel::Layout& l : layouts) widest = std::max(widest, l.dp);
  // ctest runs these cases as gpu_nccl_runtime_distinct_test, skipped below
  // 2 devices (tests/gpu_nccl_runtime.cmake).
  ASSERT_GE(devices, widest) << "layout " << device_run::LayoutName(layouts) << " needs " << widest
                             << " CUDA devices for distinct GPUs per DP group, " << devices << " present";
  const JobConfig cfg = device_run::WithLayouts(device_run::TestJob(kNcclSteps), layouts);
  ASSERT_TRUE(ValidateJobConfig(cfg).ok()) << ValidateJobConfig(cfg).ToString();
  const device_run::Run cpu = device_run::RunInProc(cfg, nullptr);
  comm::InMemoryKvStore nccl_store, gloo_store;
  comm::PrefixKvStore nccl_kv(&nccl_store, "job/attempt-1/"), gloo_kv(&gloo_store, "job/attempt-1/");
  // kNccl: no silent fallback; a failure to bring NCCL up fails the setup.
  const device_run::Run nccl = device_run::RunInProc(cfg, RoundRobinCuda(layouts, devices),
                                                     NcclSetup(cfg, &nccl_kv, DpAllReduceMode::kNccl));
  const device_run::Run gloo = device_run::RunInProc(cfg, RoundRobinCuda(layouts, devices),
                                                     NcclSetup(cfg, &gloo_kv, DpAllReduceMode::kGloo));
  const std::string what = "layout " + device_run::LayoutName(layouts);
  ExpectPaths(nccl, cfg, "nccl-device");
  ExpectPaths(gloo, cfg, "gloo-host-staged");
  ExpectFollowsCpu(nccl, cpu, what + " nccl");
  ExpectFollowsCpu(gloo, cpu, what + " gloo");
  // dp 2: each element's sum is one fp32 add on either path, and the
  // kernels are deterministic: the two runs are the same run.
  if (widest == 2) {
    ASSERT_EQ(nccl.losses.size(), gloo.losses.size());
    for (size_t s = 0; s < nccl.losses.size(); ++s)
      EXPECT_EQ(nccl.losses[s], gloo.losses[s]) << what << " step " << s << ": nccl vs gloo";
    for (size_t i = 0; i < nccl.params.size() && i < gloo.params.size(); ++i)
      EXPECT_TRUE(nccl.params[i] == gloo.params[i]) << what << " " << nccl.modules[i] << " runner " << i
                                                    << ": nccl params differ from gloo's";
  }
  std::printf("NCCL path exercised: layout %s on %d CUDA devices, DP groups on distinct GPUs took nccl-device\n",
              device_run::LayoutName(layouts).c_str(), devices);
}

TEST(GpuNcclRuntime, Layout121OnDistinctGpusTakesNccl) {
  RunDistinctGpus({parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 1}, parallel::Layout{1, 1, 1}});
}
TEST(GpuNcclRuntime, Layout212OnDistinctGpusTakesNccl) {
  RunDistinctGpus({parallel::Layout{2, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 1}});
}

// The TP sums on NCCL: the LLM's two TP ranks on distinct GPUs (job ranks 1
// and 2 of 4, round-robin over 2+ devices) take NCCL and equal the
// host-copy run bit for bit (two ranks: one fp32 add per element either way).
TEST(GpuNcclRuntime, LlmTp2OnDistinctGpusTakesNccl) {
  const Layouts layouts = {parallel::Layout{1, 1, 1}, parallel::Layout{1, 2, 1}, parallel::Layout{1, 1, 1}};
  const int devices = CudaDeviceCount();
  ASSERT_GE(devices, 2) << "the LLM's TP ranks on distinct GPUs need 2 CUDA devices, " << devices << " present";
  const JobConfig cfg = device_run::WithLayouts(device_run::TestJob(kNcclSteps), layouts);
  const device_run::Run cpu = device_run::RunInProc(cfg, nullptr);
  comm::InMemoryKvStore store;
  comm::PrefixKvStore kv(&store, "job/attempt-1/");
  int nccl_groups = 0;
  std::mutex mu;
  const device_run::Run nccl =
      device_run::RunInProc(cfg, RoundRobinCuda(layouts, devices), [&](ModuleRunner& mr, DpGroup&) -> Status {
        if (mr.role() != Role::kLlm) return Status::Ok();
        ASSIGN_OR_RETURN(std::unique_ptr<parallel::TpComm> tp,
                         SetUpNcclTpComm(kv, *mr.device(),
                                         {"llm", "tp-d0-p0", mr.coord().tp, 2, DpAllReduceMode::kNccl,
                                          kNcclTimeoutSeconds}));
        if (tp) {
          std::lock_guard<std::mutex> lock(mu);
          ++nccl_groups;
          mr.UseTpComm(std::move(tp));
        }
        return Status::Ok();
      });
  const device_run::Run host = device_run::RunInProc(cfg, RoundRobinCuda(layouts, devices));
  EXPECT_EQ(nccl_groups, 2);
  ExpectFollowsCpu(nccl, cpu, "llm tp 2 nccl");
  EXPECT_EQ(nccl.losses, host.losses) << "nccl vs host-copy TP sums";
  EXPECT_EQ(nccl.params, host.params) << "nccl vs host-copy TP sums: final params differ";
}

TEST(GpuNcclRuntime, RanksSharingAGpuFallBackToGloo) {
  const Layouts layouts = {parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 1}, parallel::Layout{1, 1, 1}};
  const JobConfig cfg = device_run::WithLayouts(device_run::TestJob(kNcclSteps), layouts);
  const device_run::Run cpu = device_run::RunInProc(cfg, nullptr);
  comm::InMemoryKvStore kv;
  const device_run::Run gpu = device_run::RunInProc(cfg, RoundRobinCuda(layouts, 1),
                                                    NcclSetup(cfg, &kv, DpAllReduceMode::kAuto));
  ExpectPaths(gpu, cfg, "gloo-host-staged");
  ExpectFollowsCpu(gpu, cpu, "layout 1/2/1 on one GPU");
  std::printf("fallback exercised: the LLM's 2 DP ranks share cuda device 0, so their all-reduce took "
              "gloo-host-staged (%d CUDA device(s) present)\n",
              CudaDeviceCount());
}

TEST(GpuNcclRuntime, NcclRequestedOnASharedGpuFails) {
  comm::InMemoryKvStore kv;
  const std::vector<Status> got = device_run::OnSharedGpu(2, [&](int r, RankDevice& dev) {
    return SetUpNcclGradAllReduce(kv, dev, {"llm", "dp-t0-p0", r, 2, DpAllReduceMode::kNccl, kNcclTimeoutSeconds})
        .status();
  });
  for (const Status& s : got) {
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("BRAID_DP_ALLREDUCE=nccl"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("ranks 0 and 1 share cuda device"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace braid::worker
