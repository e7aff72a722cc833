// The distributed runtime on CUDA (docs/GPU.md step 3): the in-process
// runtime (every rank a thread running the real ModuleRunner) with every rank
// on its own CUDA context, one device per rank where there are enough, else
// several ranks sharing devices round-robin (boundary tensors and the DP
// all-reduce are host-staged, so that works). Each layout (DP, and DP with
// an LLM pipeline) follows the same layout on the CPU loss by loss and ends
// with the same parameters, within fp32 tolerances (reduction order,
// cuBLASLt), and trains.
#include <gtest/gtest.h>

#include <cmath>

#include "common/gpu/device.h"
#include "common/worker/cuda_rank_device.h"
#include "tests/gpu/runtime_devices.h"

namespace braid::worker {
namespace {

using device_run::Layouts;

constexpr int kSteps = 8;
// Per-step loss, relative: the first step differs only by reduction order;
// later ones also by the parameters' drift through AdamW.
constexpr double kLossBound = 1e-3;
constexpr double kParamsBound = 5e-3;  // L2 relative, after kSteps AdamW steps

using device_run::RoundRobinCuda;

void RunLayout(const Layouts& layouts, int llm_layers = 1) {
  StatusOr<int> devices = gpu::DeviceCount();
  ASSERT_TRUE(devices.ok()) << devices.status().ToString();
  JobConfig cfg = device_run::WithLayouts(device_run::TestJob(kSteps), layouts);
  cfg.model.llm.layers = llm_layers;
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

// Pipeline parallel: the LLM's stages on CUDA, hidden states host-staged.
TEST(GpuRuntimeEquivalence, LlmPipeline2OnCudaFollowsTheCpu) {
  RunLayout({parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 2}, parallel::Layout{1, 1, 1}}, 2);
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

// Tensor parallel: the encoder's and the LLM's TP slices on CUDA, the TP
// sums through host copies (ranks may share a GPU), the vocabulary-parallel
// loss as device kernels.
TEST(GpuRuntimeEquivalence, EncoderAndLlmTp2OnCudaFollowTheCpu) {
  RunLayout({parallel::Layout{1, 2, 1}, parallel::Layout{1, 2, 1}, parallel::Layout{1, 1, 1}});
}

}  // namespace
}  // namespace braid::worker
