// The ViT encoder and the DiT generator end to end on the CUDA backend
// (parameters moved to the device, inputs uploaded, every op a CUDA kernel)
// against the same runs on the CPU: outputs, losses, input gradients,
// parameter gradients, noise predictions and DDIM samples within the fp32
// GEMM bound (normalised error, docs/GPU.md).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/ops/cuda/cuda_backend.h"
#include "tests/gpu/gpu_fixture.h"
#include "tests/support/vit_dit_runs.h"

namespace braid::gputest {
namespace {

using testing_support::DitRun;
using testing_support::RunDit;
using testing_support::RunVit;
using testing_support::VitRun;

class VitDitCudaTest : public GpuTest {};

TEST_F(VitDitCudaTest, VitMatchesTheCpu) {
  const uint64_t seed = TestSeed("vit-cuda");
  const VitRun cpu = RunVit(nullptr, seed);
  cuda::CudaBackend backend(ctx_.get());
  const ops::Backend b = backend.backend();
  const VitRun gpu = RunVit(&b, seed);
  Status s = ctx_->Synchronize();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_LE(NormalisedError(gpu.out_a, cpu.out_a), kFp32GemmBound);
  EXPECT_LE(NormalisedError(gpu.out_b, cpu.out_b), kFp32GemmBound);
  EXPECT_LE(NormalisedError(gpu.grads, cpu.grads), kFp32GemmBound);
}

TEST_F(VitDitCudaTest, DitMatchesTheCpu) {
  const uint64_t seed = TestSeed("dit-cuda");
  const DitRun cpu = RunDit(nullptr, seed);
  cuda::CudaBackend backend(ctx_.get());
  const ops::Backend b = backend.backend();
  const DitRun gpu = RunDit(&b, seed);
  Status s = ctx_->Synchronize();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_LE(std::fabs(gpu.loss_a - cpu.loss_a), kFp32GemmBound * std::fabs(cpu.loss_a));
  EXPECT_LE(std::fabs(gpu.loss_b - cpu.loss_b), kFp32GemmBound * std::fabs(cpu.loss_b));
  EXPECT_LE(NormalisedError(gpu.dcond_a, cpu.dcond_a), kFp32GemmBound);
  EXPECT_LE(NormalisedError(gpu.dcond_b, cpu.dcond_b), kFp32GemmBound);
  EXPECT_LE(NormalisedError(gpu.grads, cpu.grads), kFp32GemmBound);
  EXPECT_LE(NormalisedError(gpu.pred, cpu.pred), kFp32GemmBound);
  EXPECT_LE(NormalisedError(gpu.sample, cpu.sample), kFp32GemmBound);
}

}  // namespace
}  // namespace braid::gputest
