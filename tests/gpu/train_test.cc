// The single-process trainer on the CUDA backend (docs/GPU.md step 3): the
// tiny job trained on the GPU against the same job on the CPU, loss by loss
// (fp32 kernels; tolerances for reduction order and cuBLASLt).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "common/config/job_config.h"
#include "common/ops/cuda/cuda_backend.h"
#include "common/train/trainer.h"
#include "tests/gpu/gpu_fixture.h"

namespace braid::gputest {
namespace {
namespace fs = std::filesystem;

class TrainGpuTest : public GpuTest {};

TEST_F(TrainGpuTest, TinyJobOnCudaFollowsTheCpuLosses) {
  auto cfg = LoadJobConfig("tests/data/jobs/tiny.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  cfg->train.steps = 8;
  const fs::path root = fs::temp_directory_path() / ("braid_gpu_train_" + std::to_string(getpid()));
  fs::remove_all(root);

  train::TrainOptions cpu_opt;
  cpu_opt.run_dir = (root / "cpu").string();
  cpu_opt.progress = false;
  auto cpu = train::TrainSingleProcess(*cfg, cpu_opt);
  ASSERT_TRUE(cpu.ok()) << cpu.status().ToString();

  cuda::CudaBackend backend(ctx_.get());
  const ops::Backend b = backend.backend();
  train::TrainOptions gpu_opt;
  gpu_opt.run_dir = (root / "gpu").string();
  gpu_opt.progress = false;
  gpu_opt.backend = &b;
  gpu_opt.check_device = [this] { return ctx_->TakeError(); };
  auto gpu = train::TrainSingleProcess(*cfg, gpu_opt);
  ASSERT_TRUE(gpu.ok()) << gpu.status().ToString();

  EXPECT_EQ(gpu->steps_run, cpu->steps_run);
  EXPECT_NEAR(gpu->first_loss, cpu->first_loss, 1e-4 * std::abs(cpu->first_loss));
  EXPECT_NEAR(gpu->last_loss, cpu->last_loss, 1e-3 * std::abs(cpu->last_loss));
  EXPECT_NEAR(gpu->last_gen_loss, cpu->last_gen_loss, 1e-3 * std::abs(cpu->last_gen_loss));
  EXPECT_LT(gpu->last_loss, gpu->first_loss);  // it trains
  fs::remove_all(root);
}

}  // namespace
}  // namespace braid::gputest
