// The LLM forward + backward on the CUDA backend against the host run
// (docs/GPU.md step 3): the same model code, its ops dispatched to the CUDA
// kernels, params and activations in device memory.
#include <gtest/gtest.h>

#include <cmath>

#include "common/ops/cuda/cuda_backend.h"
#include "tests/gpu/gpu_fixture.h"
#include "tests/support/llm_device_case.h"

namespace braid::gputest {
namespace {

class LlmGpuTest : public GpuTest {};

TEST_F(LlmGpuTest, ForwardAndBackwardOnCudaMatchTheCpu) {
  const LlmConfig cfg = testing_support::SmallDeviceLlm();
  const testing_support::LlmRunResult host = testing_support::RunLlmOnce(cfg, 13, nullptr);
  cuda::CudaBackend backend(ctx_.get());
  const ops::Backend b = backend.backend();
  const testing_support::LlmRunResult dev = testing_support::RunLlmOnce(cfg, 13, &b);
  Status s = ctx_->Synchronize();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(dev.count, host.count);
  EXPECT_NEAR(dev.loss, host.loss, 1e-4 * std::abs(host.loss));
  EXPECT_LE(NormalisedError(dev.logits, host.logits), kFp32GemmBound);
  EXPECT_LE(NormalisedError(dev.gen_hidden, host.gen_hidden), kFp32GemmBound);
  EXPECT_LE(NormalisedError(dev.dimage_emb, host.dimage_emb), kFp32GemmBound);
  EXPECT_LE(NormalisedError(dev.grads, host.grads), kFp32GemmBound);
}

}  // namespace
}  // namespace braid::gputest
