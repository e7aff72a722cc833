// The LLM is op-only model code (docs/GPU.md steps 1 and 3): run on the
// guarded fake device, whose memory faults on any host access outside an op
// and whose ops refuse host pointers, it gives bit-for-bit the results of the
// host run (same CPU kernels).
#include <gtest/gtest.h>

#include "tests/support/guarded_device.h"
#include "tests/support/llm_device_case.h"

namespace braid {
namespace {

using testing_support::GuardedDevice;
using testing_support::GuardedOps;

TEST(NnDeviceLlm, ForwardAndBackwardOnAGuardedDeviceMatchTheHostBitForBit) {
  const LlmConfig cfg = testing_support::SmallDeviceLlm();
  const testing_support::LlmRunResult host = testing_support::RunLlmOnce(cfg, 13, nullptr);

  GuardedDevice dev;
  GuardedOps gops(&dev);
  const int64_t calls_before = GuardedOps::calls();
  const ops::Backend backend = gops.backend();
  const testing_support::LlmRunResult device = testing_support::RunLlmOnce(cfg, 13, &backend);

  EXPECT_GT(GuardedOps::calls() - calls_before, 30);  // the model really ran through the device table
  EXPECT_EQ(device.count, host.count);
  EXPECT_EQ(device.loss, host.loss);
  EXPECT_EQ(device.logits, host.logits);
  EXPECT_EQ(device.gen_hidden, host.gen_hidden);
  EXPECT_EQ(device.dimage_emb, host.dimage_emb);
  ASSERT_EQ(device.grads.size(), host.grads.size());
  EXPECT_EQ(device.grads, host.grads);
  EXPECT_GT(host.count, 0);
}

}  // namespace
}  // namespace braid
