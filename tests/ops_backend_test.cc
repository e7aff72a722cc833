// The backend plumbing (docs/GPU.md step 3) on the CPU: ops dispatch to the
// thread's device table for float only; tensors allocate in the thread's
// device memory; host access to device memory faults (guarded fake device).
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "common/ops/backend.h"
#include "common/ops/cpu/activation.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/rows.h"
#include "common/optim/adamw.h"
#include "common/optim/grad_clip.h"
#include "common/tensor/param_buffer.h"
#include "common/tensor/tensor.h"
#include "tests/support/guarded_device.h"

namespace braid {
namespace {

using testing_support::GuardedDevice;
using testing_support::GuardedOps;

TEST(OpsBackend, NoBackendRunsTheCpuKernel) {
  EXPECT_EQ(ops::CurrentDeviceOps(), nullptr);
  std::vector<float> a{1, 2}, b{3, 4}, out(2);
  ops::residual_forward(out.data(), a.data(), b.data(), 2);
  EXPECT_EQ(out, (std::vector<float>{4, 6}));
}

TEST(OpsBackend, FloatOpsDispatchToTheThreadsDevice) {
  GuardedDevice dev;
  GuardedOps gops(&dev);
  const int64_t before = GuardedOps::calls();
  ops::ScopedBackend scope(gops.backend());
  Tensor a({3}), b({3}), out({3});
  ASSERT_TRUE(a.on_device());
  const float ha[] = {1, 2, 3}, hb[] = {10, 20, 30};
  a.CopyFromHost(ha, 3);
  b.CopyFromHost(hb, 3);
  ops::residual_forward(out.data(), a.data(), b.data(), 3);
  EXPECT_EQ(GuardedOps::calls(), before + 1);
  EXPECT_EQ(out.ToHost(), (std::vector<float>{11, 22, 33}));
  // Doubles are the float64 reference path: always the CPU kernel.
  std::vector<double> da{1}, db{2}, dout(1);
  ops::residual_forward(dout.data(), da.data(), db.data(), 1);
  EXPECT_EQ(dout[0], 3.0);
  EXPECT_EQ(GuardedOps::calls(), before + 1);
}

TEST(OpsBackend, TheBackendIsPerThread) {
  GuardedDevice dev;
  GuardedOps gops(&dev);
  ops::ScopedBackend scope(gops.backend());
  bool other_thread_on_device = true;
  std::thread t([&] { other_thread_on_device = ops::CurrentDeviceOps() != nullptr; });
  t.join();
  EXPECT_FALSE(other_thread_on_device);
  EXPECT_NE(ops::CurrentDeviceOps(), nullptr);
  {
    ops::ScopedBackend cpu({});
    EXPECT_EQ(ops::CurrentDeviceOps(), nullptr);
  }
  EXPECT_NE(ops::CurrentDeviceOps(), nullptr);
}

TEST(OpsBackend, TensorsAllocateFreeAndCopyThroughDeviceMemory) {
  GuardedDevice dev;
  GuardedOps gops(&dev);
  std::vector<float> host{1, 2, 3, 4, 5, 6};
  {
    ops::ScopedBackend scope(gops.backend());
    Tensor t({2, 3});
    EXPECT_TRUE(dev.Owns(t.data()));
    EXPECT_EQ(t.ToHost(), std::vector<float>(6, 0.f));  // zero-filled
    t.CopyFromHost(host.data(), 6);
    Tensor copy = t;  // a device tensor copies on the device
    EXPECT_TRUE(dev.Owns(copy.data()));
    EXPECT_NE(copy.data(), t.data());
    EXPECT_EQ(copy.ToHost(), host);
    const float* before = t.data();
    t.Resize({3, 2});  // same size: the buffer is reused and zeroed
    EXPECT_EQ(t.data(), before);
    EXPECT_EQ(t.ToHost(), std::vector<float>(6, 0.f));
    t.Resize({4});
    EXPECT_EQ(t.numel(), 4);
  }
  EXPECT_EQ(dev.allocations(), dev.frees());  // every buffer handed back
  // A tensor made without a backend stays on the host.
  Tensor h({2});
  EXPECT_FALSE(h.on_device());
  EXPECT_FALSE(dev.Owns(h.data()));
}

TEST(OpsBackend, HostTensorMovesToTheDeviceOnResizeInADeviceThread) {
  GuardedDevice dev;
  GuardedOps gops(&dev);
  Tensor t({4});
  ASSERT_FALSE(t.on_device());
  ops::ScopedBackend scope(gops.backend());
  t.Resize({4});
  EXPECT_TRUE(t.on_device());
  EXPECT_TRUE(dev.Owns(t.data()));
}

// Two views, one without weight decay; params and grads from a fixed pattern.
ParamBuffer MakeParams() {
  ParamBuffer pb;
  pb.Add("w", {37, 11}, true);
  pb.Add("norm", {11}, false);
  pb.Allocate();
  for (int64_t i = 0; i < pb.size(); ++i) {
    pb.params()[size_t(i)] = 0.01f * float((i * 7919) % 101 - 50);
    pb.grads()[size_t(i)] = 0.003f * float((i * 104729) % 97 - 48);
  }
  return pb;
}

// The optimizer half of a step (norm, clip, AdamW x3) on the guarded device
// equals the host run bit for bit, and the host moments come back.
TEST(OpsBackend, OptimizerStepsOnTheDeviceMatchTheHost) {
  AdamWConfig cfg;
  cfg.weight_decay = 0.1f;
  ParamBuffer host = MakeParams();
  AdamW host_opt(host.size(), cfg);
  double host_norm = 0, first_norm = 0;
  for (int step = 0; step < 3; ++step) {
    host_norm = GradNorm(host.grads().data(), host.size());
    if (step == 0) first_norm = host_norm;
    ClipToNorm(host.grads().data(), host.size(), host_norm, 0.5);
    host_opt.Step(host, 1e-2f);
  }

  GuardedDevice dev;
  GuardedOps gops(&dev);
  ParamBuffer pb = MakeParams();
  AdamW opt(pb.size(), cfg);
  double norm = 0;
  const int64_t calls_before = GuardedOps::calls();
  {
    ops::ScopedBackend scope(gops.backend());
    pb.MoveToDevice();
    ASSERT_TRUE(pb.on_device());
    pb.ParamsFromHost(MakeParams().params());  // MoveToDevice zeroes grads: put both back
    Tensor g({pb.size()});
    g.CopyFromHost(MakeParams().grads().data(), pb.size());
    ops::copy(pb.grads_data(), g.data(), pb.size());
    opt.MoveToDevice(pb);
    for (int step = 0; step < 3; ++step) {
      norm = GradNorm(pb.grads_data(), pb.size());
      ClipToNorm(pb.grads_data(), pb.size(), norm, 0.5);
      opt.Step(pb, 1e-2f);
    }
  }
  EXPECT_EQ(GuardedOps::calls() - calls_before, 10);  // 1 copy + 3 x (norm, clip, adamw)
  EXPECT_EQ(norm, host_norm);
  EXPECT_EQ(pb.ParamsToHost(), host.params());
  EXPECT_EQ(pb.GradsToHost(), host.grads());
  std::vector<float> m, v;
  opt.MomentsToHost(&m, &v);
  EXPECT_EQ(m, host_opt.m());
  EXPECT_EQ(v, host_opt.v());
  EXPECT_GT(first_norm, 0.5);  // the clip was active
}

using OpsBackendDeathTest = ::testing::Test;

TEST(OpsBackendDeathTest, HostAccessToDeviceMemoryFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        GuardedDevice dev;
        GuardedOps gops(&dev);
        ops::ScopedBackend scope(gops.backend());
        Tensor t({16});
        volatile float x = t[3];  // host read of device memory
        (void)x;
      },
      "");
}

TEST(OpsBackendDeathTest, VecOnADeviceTensorAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        GuardedDevice dev;
        GuardedOps gops(&dev);
        ops::ScopedBackend scope(gops.backend());
        Tensor t({16});
        (void)t.vec();
      },
      "vec\\(\\) on a device tensor");
}

void GeluOnAnEmptyDevice() {
  ops::DeviceOps empty;
  empty.name = "empty-device";
  ops::Backend b;
  b.ops = &empty;
  ops::ScopedBackend scope(b);
  float x = 1, y = 0;
  ops::gelu_forward(&y, &x, 1);
}

TEST(OpsBackendDeathTest, AnOpMissingOnTheDeviceAbortsWithItsName) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(GeluOnAnEmptyDevice(), "op gelu_forward has no implementation on device empty-device");
}

void ResidualOnHostPointers() {
  GuardedDevice dev;
  GuardedOps gops(&dev);
  ops::ScopedBackend scope(gops.backend());
  Tensor out({2});
  std::vector<float> a{1, 2}, b{3, 4};
  ops::residual_forward(out.data(), a.data(), b.data(), 2);
}

TEST(OpsBackendDeathTest, AHostPointerPassedToADeviceOpAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(ResidualOnHostPointers(), "op argument 1 is a host pointer");
}

}  // namespace
}  // namespace braid
