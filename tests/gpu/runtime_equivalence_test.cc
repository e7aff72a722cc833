// The distributed runtime on CUDA (docs/GPU.md step 3): the in-process
// runtime (every rank a thread running the real ModuleRunner) with every rank
// on its own CUDA context, one device per rank where there are enough, else
// several ranks sharing devices round-robin (boundary tensors and the DP
// all-reduce are host-staged, so that works). Each DP layout follows the
// same layout on the CPU loss by loss and ends with the same parameters,
// within fp32 tolerances (reduction order, cuBLASLt), and trains.
#include <gtest/gtest.h>

#include <cmath>

#include "common/gpu/device.h"
#include "common/worker/cuda_rank_device.h"
#include "tests/worker_device_run.h"

namespace braid::worker {
namespace {

using device_run::Layouts;

constexpr int kSteps = 8;
// Per-step loss, relative: the first step differs only by reduction order;
// later ones also by the parameters' drift through AdamW.
constexpr double kLossBound = 1e-3;
constexpr double kParamsBound = 5e-3;  // L2 relative, after kSteps AdamW steps

// Module rank `rank` of `role` on device (its index among all ranks) mod count.
RankDeviceFactory RoundRobinCuda(const Layouts& l, int devices) {
  return [l, devices](Role role, int rank) {
    int index = rank;
    for (int r = 0; r < int(role); ++r) index += l[size_t(r)].world();
    return OpenCudaRankDevice(index % devices);
  };
}

void RunLayout(const Layouts& layouts) {
  StatusOr<int> devices = gpu::DeviceCount();
  ASSERT_TRUE(devices.ok()) << devices.status().ToString();
  const JobConfig cfg = device_run::WithLayouts(device_run::TestJob(kSteps), layouts);
  ASSERT_TRUE(ValidateJobConfig(cfg).ok()) << ValidateJobConfig(cfg).ToString();
  const device_run::Run cpu = device_run::RunInProc(cfg, nullptr);
  const device_run::Run gpu = device_run::RunInProc(cfg, RoundRobinCuda(layouts, *devices));
  ASSERT_EQ(gpu.losses.size(), size_t(kSteps));
  ASSERT_EQ(cpu.losses.size(), size_t(kSteps));
  double worst = 0;
  for (size_t s = 0; s < gpu.losses.size(); ++s) {
    const double rel = std::abs(gpu.losses[s] - cpu.losses[s]) / std::abs(cpu.losses[s]);
    worst = std::max(worst, rel);
    EXPECT_LE(rel, kLossBound) << "layout " << device_run::LayoutName(layouts) << " step " << s << ": cuda "
                               << gpu.losses[s] << " vs cpu " << cpu.losses[s];
  }
  EXPECT_LT(gpu.losses.back(), gpu.losses.front());  // it trains
  ASSERT_EQ(gpu.params.size(), cpu.params.size());
  for (size_t i = 0; i < gpu.params.size(); ++i) {
    EXPECT_TRUE(gpu.on_device[i]) << gpu.modules[i] << " runner " << i;
    const double d = testing_util::L2RelDiff(gpu.params[i], cpu.params[i]);
    EXPECT_LE(d, kParamsBound) << gpu.modules[i] << " runner " << i << " params rel diff " << d;
  }
  std::printf("layout %s on %d cuda device(s): worst per-step loss rel diff %.3e\n",
              device_run::LayoutName(layouts).c_str(), *devices, worst);
}

TEST(GpuRuntimeEquivalence, Layout111OnCudaFollowsTheCpu) {
  RunLayout({parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}});
}
TEST(GpuRuntimeEquivalence, Layout121OnCudaFollowsTheCpu) {
  RunLayout({parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 1}, parallel::Layout{1, 1, 1}});
}
TEST(GpuRuntimeEquivalence, Layout212OnCudaFollowsTheCpu) {
  RunLayout({parallel::Layout{2, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 1}});
}

TEST(GpuRuntimeEquivalence, TpOnCudaIsUnimplemented) {
  const Layouts layouts = {parallel::Layout{1, 1, 1}, parallel::Layout{1, 2, 1}, parallel::Layout{1, 1, 1}};
  const JobConfig cfg = device_run::WithLayouts(device_run::TestJob(3), layouts);
  InProcFabric fabric(layouts, 1);
  ModuleRunner llm(Role::kLlm, 0, cfg, fabric.transport(Role::kLlm, 0), fabric.dp_group(Role::kLlm, 0),
                   fabric.tp_group(Role::kLlm, 0), fabric.mp_group(Role::kLlm, 0));
  StatusOr<std::unique_ptr<RankDevice>> dev = OpenCudaRankDevice(0);
  ASSERT_TRUE(dev.ok()) << dev.status().ToString();
  Status s = llm.UseDevice(std::move(*dev));
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("parallel.llm: tp/pp on device: cuda"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace braid::worker
