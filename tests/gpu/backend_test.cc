// The CUDA backend through the model's entry points (docs/GPU.md, step 3):
// with a cuda::Context and CudaBackend installed on the thread, Tensors live
// in device memory and the ops:: calls the model makes run the CUDA kernels;
// a small MLP chain (matmul, RMSNorm, GELU, residual, backward) must match the
// same calls on the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/ops/cpu/activation.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/norm.h"
#include "common/ops/cpu/rows.h"
#include "common/ops/cuda/cuda_backend.h"
#include "common/tensor/tensor.h"
#include "tests/gpu/gpu_fixture.h"

namespace braid::gputest {
namespace {

struct Chain {
  Tensor x, w1, b1, h, hn, rstd, g, w2, y, dy, dg, dhn, dh, dx, dw1, db1, dw2, dnw, nw;
};

// y = W2 gelu(rmsnorm(W1 x + b1)); then the backward of sum(dy * y).
void RunChain(Chain& c, int64_t N, int64_t C, int64_t H) {
  ops::matmul_forward(c.h.data(), c.x.data(), c.w1.data(), c.b1.data(), N, C, H);
  ops::rmsnorm_forward(c.hn.data(), c.rstd.data(), c.h.data(), c.nw.data(), N, H);
  ops::gelu_forward(c.g.data(), c.hn.data(), N * H);
  ops::matmul_forward(c.y.data(), c.g.data(), c.w2.data(), static_cast<const float*>(nullptr), N, H, C);
  ops::matmul_backward(c.dg.data(), c.dw2.data(), static_cast<float*>(nullptr), c.dy.data(), c.g.data(),
                       c.w2.data(), N, H, C);
  ops::gelu_backward(c.dhn.data(), c.dg.data(), c.hn.data(), N * H);
  ops::rmsnorm_backward(c.dh.data(), c.dnw.data(), c.dhn.data(), c.h.data(), c.nw.data(), c.rstd.data(), N, H);
  ops::matmul_backward(c.dx.data(), c.dw1.data(), c.db1.data(), c.dh.data(), c.x.data(), c.w1.data(), N, C, H);
}

void Fill(Chain& c, int64_t N, int64_t C, int64_t H, uint64_t seed) {
  auto set = [](Tensor& t, std::vector<int64_t> shape, const std::vector<float>& v) {
    t.Resize(std::move(shape));
    if (!v.empty()) t.CopyFromHost(v.data(), static_cast<int64_t>(v.size()));
  };
  set(c.x, {N, C}, RandomVector(N * C, seed));
  set(c.w1, {H, C}, RandomVector(H * C, seed + 1, -0.2f, 0.2f));
  set(c.b1, {H}, RandomVector(H, seed + 2));
  set(c.nw, {H}, RandomVector(H, seed + 3, 0.5f, 1.5f));
  set(c.w2, {C, H}, RandomVector(C * H, seed + 4, -0.2f, 0.2f));
  set(c.dy, {N, C}, RandomVector(N * C, seed + 5));
  for (Tensor* t : {&c.h, &c.hn, &c.g, &c.dg, &c.dhn, &c.dh}) set(*t, {N, H}, {});
  set(c.rstd, {N}, {});
  set(c.y, {N, C}, {});
  set(c.dx, {N, C}, {});
  set(c.dw1, {H, C}, {});
  set(c.db1, {H}, {});
  set(c.dw2, {C, H}, {});
  set(c.dnw, {H}, {});
}

class CudaBackendTest : public GpuTest {};

TEST_F(CudaBackendTest, ModelOpsDispatchToCudaAndMatchTheCpu) {
  const int64_t N = 77, C = 96, H = 384;
  const uint64_t seed = TestSeed("backend-chain");
  Chain cpu;
  Fill(cpu, N, C, H, seed);
  RunChain(cpu, N, C, H);

  cuda::CudaBackend backend(ctx_.get());
  Chain dev;
  {
    ops::ScopedBackend scope(backend.backend());
    Fill(dev, N, C, H, seed);
    ASSERT_TRUE(dev.x.on_device());
    RunChain(dev, N, C, H);
  }
  Status s = ctx_->Synchronize();
  ASSERT_TRUE(s.ok()) << s.ToString();
  const std::pair<Tensor*, Tensor*> outs[] = {{&cpu.y, &dev.y},     {&cpu.dx, &dev.dx},   {&cpu.dw1, &dev.dw1},
                                              {&cpu.db1, &dev.db1}, {&cpu.dw2, &dev.dw2}, {&cpu.dnw, &dev.dnw}};
  for (const auto& [want, got] : outs) {
    EXPECT_LE(NormalisedError(got->ToHost(), want->ToHost()), kFp32GemmBound);
  }
}

TEST_F(CudaBackendTest, TensorMemoryRoundTripsAndCopies) {
  cuda::CudaBackend backend(ctx_.get());
  ops::ScopedBackend scope(backend.backend());
  const auto v = RandomVector(1000, TestSeed("backend-memory"));
  Tensor t({10, 100});
  ASSERT_TRUE(t.on_device());
  EXPECT_EQ(t.ToHost(), std::vector<float>(1000, 0.f));
  t.CopyFromHost(v.data(), 1000);
  Tensor copy = t;
  EXPECT_EQ(copy.ToHost(), v);
  t.Zero();
  EXPECT_EQ(t.ToHost(), std::vector<float>(1000, 0.f));
  EXPECT_EQ(copy.ToHost(), v);
  Status s = ctx_->TakeError();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// Uploads through the pinned staging ring (CudaMemory::CopyFromHost,
// staging_ring.h): many more bytes than the ring holds, each upload from a
// host buffer overwritten at once after the call, the stream kept busy in
// between so the ring laps while copies are still queued; every device
// buffer must hold exactly what was uploaded into it, and an upload larger
// than the ring goes through pageable memory.
TEST_F(CudaBackendTest, UploadsThroughThePinnedRingLandIntact) {
  cuda::CudaBackend backend(ctx_.get());
  ops::ScopedBackend scope(backend.backend());
  const int64_t n = int64_t{3} << 20;  // 12 MiB per upload: the 64 MiB ring laps every 5
  const int kUploads = 24;
  std::vector<Tensor> dev;
  std::vector<float> host(static_cast<size_t>(n));
  for (int u = 0; u < kUploads; ++u) {
    for (int64_t i = 0; i < n; ++i) host[size_t(i)] = float(u * 1000003 + i % 997);
    dev.emplace_back(std::vector<int64_t>{n});
    dev.back().CopyFromHost(host.data(), n);
    std::fill(host.begin(), host.end(), -1.f);  // the caller may reuse its buffer at once
    Tensor busy({n});  // device work queued behind the copy
    for (int k = 0; k < 4; ++k) ops::accumulate(busy.data(), dev.back().data(), n);
  }
  for (int u = 0; u < kUploads; ++u) {
    const std::vector<float> got = dev[size_t(u)].ToHost();
    for (int64_t i = 0; i < n; i += 4099)
      ASSERT_EQ(got[size_t(i)], float(u * 1000003 + i % 997)) << "upload " << u << " element " << i;
  }
  const int64_t big = int64_t(cuda::CudaMemory::kStagingBytes / sizeof(float)) + 7;
  std::vector<float> large(static_cast<size_t>(big), 3.5f);
  Tensor t({big});
  t.CopyFromHost(large.data(), big);
  EXPECT_EQ(t.ToHost(), large);
  Status s = ctx_->TakeError();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

}  // namespace
}  // namespace braid::gputest
