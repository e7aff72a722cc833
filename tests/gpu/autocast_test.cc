// The autocast CUDA backend (cuda_backend.h, Precision::kBf16Autocast;
// docs/GPU.md step 5, "Mixed precision (as built)"): its matmul and
// attention ops against the CPU ops on bf16-rounded operands, the += and
// fp32 contracts of the backward, the bf16 weight mirrors (used, refreshed
// after host uploads, AdamW and MarkParamsChanged, dropped on free), and the
// LLM's forward and backward under autocast against the fp32 CPU run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/nn/llm.h"
#include "common/ops/cpu/attention.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cuda/cuda_backend.h"
#include "common/ops/math/adamw.h"
#include "tests/gpu/gpu_fixture.h"
#include "tests/support/llm_device_case.h"

namespace braid::gputest {
namespace {

struct MatShape {
  int64_t N, C, OC;
  std::string Name() const { return std::to_string(N) + "x" + std::to_string(C) + "->" + std::to_string(OC); }
};
// Odd sizes (off every tile), and one of a transformer's proportions.
const MatShape kMatShapes[] = {{1, 1, 1}, {37, 70, 45}, {129, 256, 192}};

// The LLM under autocast against the fp32 CPU run: bf16 operands in every
// matmul and the attention (2 layers). Bounds to be tuned on the first GPU
// run (docs/GPU.md).
constexpr double kAutocastModelBound = 2 * kBf16Bound;
constexpr double kAutocastGradBound = 5 * kBf16Bound;

class AutocastGpuTest : public GpuTest {
 protected:
  void SetUp() override {
    GpuTest::SetUp();
    if (ctx_ == nullptr) return;
    backend_ = std::make_unique<cuda::CudaBackend>(ctx_.get(), cuda::Precision::kBf16Autocast);
  }
  void TearDown() override {
    backend_.reset();
    GpuTest::TearDown();
  }
  const ops::DeviceOps& Table() const { return cuda::CudaAutocastOps(); }

  std::unique_ptr<cuda::CudaBackend> backend_;
};

TEST_F(AutocastGpuTest, BackendSelectsTheTable) {
  EXPECT_EQ(backend_->backend().ops, &cuda::CudaAutocastOps());
  EXPECT_STREQ(backend_->backend().ops->name, "cuda-bf16-autocast");
  cuda::CudaBackend fp32(ctx_.get());
  EXPECT_EQ(fp32.backend().ops, &cuda::CudaOps());
  EXPECT_EQ(fp32.shadows(), nullptr);
  EXPECT_TRUE(fp32.RegisterParams(nullptr, 0).ok());  // a no-op under fp32
  // Only the five autocast entries differ from the fp32 table.
  EXPECT_NE(Table().matmul_forward, cuda::CudaOps().matmul_forward);
  EXPECT_EQ(Table().rmsnorm_forward, cuda::CudaOps().rmsnorm_forward);
  EXPECT_EQ(Table().cross_entropy_forward, cuda::CudaOps().cross_entropy_forward);
}

TEST_F(AutocastGpuTest, MatmulForwardMatchesCpuOnBf16Operands) {
  for (const MatShape& s : kMatShapes)
    for (int bias_offset : {-1, 0, 1}) {  // -1: no bias; 1: a 4-byte aligned bias (not fused)
      SCOPED_TRACE(s.Name() + " bias offset " + std::to_string(bias_offset));
      const uint64_t seed = TestSeed("autocast_fwd" + s.Name());
      const auto inp = RandomVector(s.N * s.C, seed), w = RandomVector(s.OC * s.C, seed + 1);
      const auto b = RandomVector(s.OC + 1, seed + 2);
      const float* b_host = bias_offset < 0 ? nullptr : b.data() + bias_offset;
      std::vector<float> want(static_cast<size_t>(s.N * s.OC));
      ops::matmul_forward<float>(want.data(), RoundBf16(inp).data(), RoundBf16(w).data(), b_host, s.N, s.C, s.OC);
      auto d_inp = Up(inp);
      auto d_w = Up(w);
      auto d_b = Up(b);
      auto d_out = Up(std::vector<float>(want.size(), std::numeric_limits<float>::quiet_NaN()));
      {
        ops::ScopedBackend scope(backend_->backend());
        const float* d_bias = bias_offset < 0 ? nullptr : d_b.data() + bias_offset;
        Table().matmul_forward(d_out.data(), d_inp.data(), d_w.data(), d_bias, s.N, s.C, s.OC);
      }
      // bf16 products are exact in fp32 and accumulate in fp32: far inside the bf16 bound.
      EXPECT_LE(NormalisedError(Down(d_out), want), kBf16Bound);
    }
}

TEST_F(AutocastGpuTest, MatmulBackwardAccumulatesFp32Gradients) {
  for (const MatShape& s : kMatShapes)
    for (int skip = 0; skip < 3; ++skip) {  // 0: all three; 1: no dinp; 2: no dweight
      SCOPED_TRACE(s.Name() + " skip " + std::to_string(skip));
      const uint64_t seed = TestSeed("autocast_bwd" + s.Name());
      const auto inp = RandomVector(s.N * s.C, seed), w = RandomVector(s.OC * s.C, seed + 1),
                 dout = RandomVector(s.N * s.OC, seed + 2);
      const auto dinp0 = RandomVector(s.N * s.C, seed + 3), dw0 = RandomVector(s.OC * s.C, seed + 4),
                 db0 = RandomVector(s.OC, seed + 5);
      auto dinp_ref = dinp0, dw_ref = dw0, db_ref = db0;
      // dinp and dweight from bf16 operands; dbias from the fp32 dout.
      ops::matmul_backward<float>(skip == 1 ? nullptr : dinp_ref.data(), skip == 2 ? nullptr : dw_ref.data(), nullptr,
                                  RoundBf16(dout).data(), RoundBf16(inp).data(), RoundBf16(w).data(), s.N, s.C, s.OC);
      ops::matmul_backward<float>(nullptr, nullptr, db_ref.data(), dout.data(), inp.data(), w.data(), s.N, s.C, s.OC);
      auto d_inp = Up(inp);
      auto d_w = Up(w);
      auto d_dout = Up(dout);
      auto d_dinp = Up(dinp0);
      auto d_dw = Up(dw0);
      auto d_db = Up(db0);
      {
        ops::ScopedBackend scope(backend_->backend());
        Table().matmul_backward(skip == 1 ? nullptr : d_dinp.data(), skip == 2 ? nullptr : d_dw.data(), d_db.data(),
                                d_dout.data(), d_inp.data(), d_w.data(), s.N, s.C, s.OC);
      }
      EXPECT_LE(NormalisedError(Down(d_dinp), dinp_ref), kBf16Bound) << "dinp";
      EXPECT_LE(NormalisedError(Down(d_dw), dw_ref), kBf16Bound) << "dweight";
      EXPECT_LE(NormalisedError(Down(d_db), db_ref), kFp32Bound) << "dbias (fp32)";
    }
}

std::vector<int32_t> CuSeqlens(const std::vector<int>& lens) {
  std::vector<int32_t> cu{0};
  for (int l : lens) cu.push_back(cu.back() + l);
  return cu;
}

// Columns [part*C, (part+1)*C) of a (N, 3C) tensor minus the same of base.
std::vector<double> Part(const std::vector<float>& v, const std::vector<float>& base, int64_t N, int64_t C, int part) {
  std::vector<double> out;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const size_t at = static_cast<size_t>(n * 3 * C + part * C + c);
      out.push_back(static_cast<double>(v[at]) - static_cast<double>(base[at]));
    }
  return out;
}

TEST_F(AutocastGpuTest, AttentionMatchesCpuOnBf16Operands) {
  for (const std::vector<int>& lens : {std::vector<int>{300}, std::vector<int>{1, 7, 64, 0, 65, 33}})
    for (int64_t HD : {32, 64})
      for (bool causal : {false, true})
        for (int slack : {0, 5}) {  // max_seqlen above the longest sequence: a larger scratch
          const int64_t NH = 2, C = NH * HD;
          const std::vector<int32_t> cu = CuSeqlens(lens);
          const int num_seqs = static_cast<int>(lens.size());
          const int max_seqlen = *std::max_element(lens.begin(), lens.end()) + slack;
          const int64_t N = cu.back();
          SCOPED_TRACE("N " + std::to_string(N) + " HD " + std::to_string(HD) + (causal ? " causal" : " full") +
                       " slack " + std::to_string(slack));
          const uint64_t seed = TestSeed("autocast_attn" + std::to_string(N) + std::to_string(HD));
          const auto qkv = RandomVector(N * 3 * C, seed, -2.f, 2.f), dout = RandomVector(N * C, seed + 1);
          const auto dqkv0 = RandomVector(N * 3 * C, seed + 2);  // += into fp32: no swamping
          // The CPU reference in double on the bf16-rounded operands.
          const auto qkv_r = RoundBf16(qkv), dout_r = RoundBf16(dout);
          const std::vector<double> qkv_d(qkv_r.begin(), qkv_r.end()), dout_d(dout_r.begin(), dout_r.end());
          std::vector<double> out_ref(static_cast<size_t>(N * C)), lse_ref(static_cast<size_t>(N * NH));
          std::vector<double> dqkv_ref(dqkv0.begin(), dqkv0.end());
          ops::attention_forward(out_ref.data(), lse_ref.data(), qkv_d.data(), cu.data(), num_seqs, 0, NH, HD, causal);
          ops::attention_backward(dqkv_ref.data(), dout_d.data(), qkv_d.data(), out_ref.data(), lse_ref.data(),
                                  cu.data(), num_seqs, 0, NH, HD, causal);
          std::vector<float> dqkv_ref_f(dqkv_ref.begin(), dqkv_ref.end());

          auto d_cu = Up(cu);
          auto d_qkv = Up(qkv);
          auto d_dout = Up(dout);
          auto d_dqkv = Up(dqkv0);
          auto d_out = Up(std::vector<float>(static_cast<size_t>(N * C), std::numeric_limits<float>::quiet_NaN()));
          auto d_lse = Zeros<float>(N * NH);
          {
            ops::ScopedBackend scope(backend_->backend());
            Table().attention_forward(d_out.data(), d_lse.data(), d_qkv.data(), d_cu.data(), num_seqs, max_seqlen, NH,
                                      HD, causal);
            Table().attention_backward(d_dqkv.data(), d_dout.data(), d_qkv.data(), d_out.data(), d_lse.data(),
                                       d_cu.data(), num_seqs, max_seqlen, NH, HD, causal);
          }
          EXPECT_LE(NormalisedError(Down(d_out), out_ref), kBf16Bound) << "out";
          EXPECT_LE(NormalisedError(Down(d_lse), lse_ref), kBf16Bound) << "lse";
          const std::vector<float> dqkv = Down(d_dqkv);
          const char* names[3] = {"dq", "dk", "dv"};
          for (int part = 0; part < 3; ++part)
            EXPECT_LE(NormalisedError(Part(dqkv, dqkv0, N, C, part), Part(dqkv_ref_f, dqkv0, N, C, part)), kBf16Bound)
                << names[part];
        }
}

// A flat "parameter buffer" holding one weight at an offset: the forward
// through a registered buffer uses the bf16 mirror, and the mirror follows
// every write the backend can see.
TEST_F(AutocastGpuTest, ShadowWeightsFollowTheParams) {
  const MatShape s{33, 48, 40};
  const int64_t off = 7, total = off + s.OC * s.C + 5;
  const uint64_t seed = TestSeed("autocast_shadow");
  const auto inp = RandomVector(s.N * s.C, seed);
  auto params = RandomVector(total, seed + 1);
  auto d_inp = Up(inp);
  auto d_out = Zeros<float>(s.N * s.OC);
  ops::ScopedBackend scope(backend_->backend());
  ops::DeviceMemory* mem = ops::CurrentDeviceMemory();
  float* d_params = static_cast<float*>(mem->Allocate(static_cast<size_t>(total) * sizeof(float)));
  mem->CopyFromHost(d_params, params.data(), static_cast<size_t>(total) * sizeof(float));
  ASSERT_TRUE(backend_->RegisterParams(d_params, total).ok());
  EXPECT_EQ(backend_->shadows()->size(), 1);

  auto expect_forward_with = [&](const std::vector<float>& p, const char* what) {
    SCOPED_TRACE(what);
    // The reference in double: double ops never dispatch to the device.
    const std::vector<float> w(p.begin() + off, p.begin() + off + s.OC * s.C);
    std::vector<double> want_d(static_cast<size_t>(s.N * s.OC));
    const auto inp_r = RoundBf16(inp), w_r = RoundBf16(w);
    const std::vector<double> inp_d(inp_r.begin(), inp_r.end()), w_d(w_r.begin(), w_r.end());
    ops::matmul_forward<double>(want_d.data(), inp_d.data(), w_d.data(), nullptr, s.N, s.C, s.OC);
    Table().matmul_forward(d_out.data(), d_inp.data(), d_params + off, nullptr, s.N, s.C, s.OC);
    EXPECT_LE(NormalisedError(Down(d_out), want_d), kBf16Bound);
  };
  expect_forward_with(params, "first use: the mirror is cast from the registered params");

  // A host upload through the backend's memory (ParamsFromHost) marks it stale.
  auto params2 = RandomVector(total, seed + 2);
  mem->CopyFromHost(d_params, params2.data(), static_cast<size_t>(total) * sizeof(float));
  expect_forward_with(params2, "after a host upload");

  // A write the backend does not see leaves the mirror as it was: the GEMM
  // really reads the mirror ...
  auto params3 = RandomVector(total, seed + 3);
  ASSERT_EQ(cudaMemcpyAsync(d_params, params3.data(), static_cast<size_t>(total) * sizeof(float),
                            cudaMemcpyHostToDevice, ctx_->stream()),
            cudaSuccess);
  expect_forward_with(params2, "after an unseen write: still the old mirror");
  // ... until the caller says the params changed.
  backend_->MarkParamsChanged();
  expect_forward_with(params3, "after MarkParamsChanged");

  // An AdamW step over the buffer writes the mirror in its kernel.
  auto d_m = Zeros<float>(total);
  auto d_v = Zeros<float>(total);
  auto d_g = Up(RandomVector(total, seed + 4));
  const math::AdamWScalars<float> a = math::AdamWScalarsAt(0.05f, 0.9f, 0.95f, 1e-8f, 1);
  Table().adamw_step(d_params, d_m.data(), d_v.data(), d_g.data(), nullptr, total, a.lr, a.beta1, a.beta2, a.eps, a.bc1,
                     a.bc2_sqrt, 0.f);
  std::vector<float> stepped(static_cast<size_t>(total));
  mem->CopyToHost(stepped.data(), d_params, stepped.size() * sizeof(float));
  EXPECT_GT(NormalisedError(stepped, params3), 1e-3);  // the step moved the params
  expect_forward_with(stepped, "after AdamW");

  // Freeing the buffer drops its mirror.
  mem->Free(d_params, static_cast<size_t>(total) * sizeof(float));
  EXPECT_EQ(backend_->shadows()->size(), 0);
}

TEST_F(AutocastGpuTest, AdamWRegistersTheBufferItUpdates) {
  const int64_t n = 1000;
  auto d_p = Up(RandomVector(n, 1));
  auto d_m = Zeros<float>(n);
  auto d_v = Zeros<float>(n);
  auto d_g = Up(RandomVector(n, 2));
  ops::ScopedBackend scope(backend_->backend());
  EXPECT_EQ(backend_->shadows()->size(), 0);
  const math::AdamWScalars<float> a = math::AdamWScalarsAt(0.01f, 0.9f, 0.95f, 1e-8f, 1);
  Table().adamw_step(d_p.data(), d_m.data(), d_v.data(), d_g.data(), nullptr, n, a.lr, a.beta1, a.beta2, a.eps, a.bc1,
                     a.bc2_sqrt, 0.f);
  EXPECT_EQ(backend_->shadows()->size(), 1);
  Table().adamw_step(d_p.data(), d_m.data(), d_v.data(), d_g.data(), nullptr, n, a.lr, a.beta1, a.beta2, a.eps, a.bc1,
                     a.bc2_sqrt, 0.f);
  EXPECT_EQ(backend_->shadows()->size(), 1);  // the same range, not a second one
  backend_->UnregisterParams(d_p.data());
  EXPECT_EQ(backend_->shadows()->size(), 0);
  Status st = ctx_->Synchronize();
  EXPECT_TRUE(st.ok()) << st.ToString();
}

// The LLM's forward and backward (the model's own code) under autocast
// against the fp32 CPU run, with the params unregistered (weights cast on the
// fly) and registered (the mirror): both within the bf16 bounds, and the two
// device runs close to each other.
testing_support::LlmRunResult RunLlm(const LlmConfig& cfg, cuda::CudaBackend* backend, bool register_params) {
  const ops::Backend b = backend->backend();
  return testing_support::RunLlmOnce(cfg, 13, &b, [&](ParamBuffer& pb) {
    if (!register_params) return;
    Status s = backend->RegisterParams(pb.params_data(), pb.size());
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
}

TEST_F(AutocastGpuTest, LlmForwardAndBackwardMatchTheCpuWithinBf16Bounds) {
  const LlmConfig cfg = testing_support::SmallDeviceLlm();
  const testing_support::LlmRunResult host = testing_support::RunLlmOnce(cfg, 13, nullptr);
  for (bool registered : {false, true}) {
    SCOPED_TRACE(registered ? "registered params (bf16 mirror)" : "weights cast on the fly");
    const testing_support::LlmRunResult dev = RunLlm(cfg, backend_.get(), registered);
    Status s = ctx_->Synchronize();
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(dev.count, host.count);
    EXPECT_NEAR(dev.loss, host.loss, kAutocastModelBound * std::abs(host.loss));
    EXPECT_LE(NormalisedError(dev.logits, host.logits), kAutocastModelBound) << "logits";
    EXPECT_LE(NormalisedError(dev.gen_hidden, host.gen_hidden), kAutocastModelBound) << "gen_hidden";
    EXPECT_LE(NormalisedError(dev.dimage_emb, host.dimage_emb), kAutocastGradBound) << "dimage_emb";
    EXPECT_LE(NormalisedError(dev.grads, host.grads), kAutocastGradBound) << "grads";
  }
  EXPECT_EQ(backend_->shadows()->size(), 0);  // the LLM's buffer was freed: its mirror dropped
}

}  // namespace
}  // namespace braid::gputest
