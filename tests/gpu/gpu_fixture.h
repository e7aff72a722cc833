// A gtest fixture owning device 0's cuda::Context, current on the test's
// thread; helpers to upload, run and download with every error checked.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "common/ops/cuda/context.h"
#include "common/ops/cuda/device_array.h"
#include "tests/gpu/gpu_compare.h"

namespace braid::gputest {

class GpuTest : public ::testing::Test {
 public:
  void SetUp() override {
    auto ctx = cuda::Context::Create(0);
    ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
    ctx_ = std::move(*ctx);
    scope_ = std::make_unique<cuda::ScopedContext>(ctx_.get());
  }
  void TearDown() override {
    if (ctx_) {
      Status s = ctx_->Synchronize();
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    scope_.reset();
    ctx_.reset();
  }

  template <typename T>
  cuda::DeviceArray<T> Up(const std::vector<T>& host) {
    auto a = cuda::Upload(host, ctx_->stream());
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? std::move(*a) : cuda::DeviceArray<T>();
  }
  template <typename T>
  cuda::DeviceArray<T> Zeros(int64_t n) {
    auto a = cuda::DeviceArray<T>::Alloc(n, ctx_->stream());
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? std::move(*a) : cuda::DeviceArray<T>();
  }
  // Waits for the stream, fails the test on any recorded op error, and
  // returns the array's contents.
  template <typename T>
  std::vector<T> Down(const cuda::DeviceArray<T>& a) {
    Status s = ctx_->Synchronize();
    EXPECT_TRUE(s.ok()) << s.ToString();
    auto h = cuda::Download(a, ctx_->stream());
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? std::move(*h) : std::vector<T>();
  }
  // Down() widened to float (bf16 arrays).
  std::vector<float> DownF(const cuda::DeviceArray<float>& a) { return Down(a); }
  std::vector<float> DownF(const cuda::DeviceArray<__nv_bfloat16>& a) { return FromBf16(Down(a)); }

  std::unique_ptr<cuda::Context> ctx_;
  std::unique_ptr<cuda::ScopedContext> scope_;
};

}  // namespace braid::gputest
