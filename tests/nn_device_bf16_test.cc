// bf16 activation storage (docs/GPU.md, "Mixed precision"), checked on the
// guarded fake device with bf16 activation ops (the CPU reference kernels,
// ops/cpu/bf16_activations.h): the transformer blocks keep their GEMM,
// attention and MLP activations in bf16 buffers that only ops touch (any
// host access faults), half the bytes of the float ones, and the LLM, the
// ViT, the DiT and a whole training run follow the float host run within
// bf16's precision. The CUDA entries are checked against the same reference
// kernels by gpu_bf16_activations_test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/config/job_config.h"
#include "common/nn/transformer_block.h"
#include "common/ops/bf16.h"
#include "common/ops/cpu/activation.h"
#include "common/ops/cpu/attention.h"
#include "common/ops/cpu/bf16_activations.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/norm.h"
#include "common/train/trainer.h"
#include "tests/support/guarded_device.h"
#include "tests/support/llm_device_case.h"
#include "tests/support/normalised_error.h"
#include "tests/support/vit_dit_runs.h"

namespace braid {
namespace {

using testing_support::GuardedDevice;
using testing_support::GuardedOps;

using testing_support::NormalisedError;

// bf16 keeps 8 significant bits: one rounding to nearest is within 2^-8
// relative (the unit roundoff). The bounds below are multiples of it; the
// measured errors (printed) are a few times smaller.
constexpr double kBf16Unit = 1.0 / 256;

// The nearest bf16 by brute force in double: the two bf16 values around f
// (truncation and the next one up in magnitude), the nearer one, ties to
// the even bit pattern.
float NearestBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
  float a, b;
  std::memcpy(&a, &lo, 4);
  std::memcpy(&b, &hi, 4);
  const double da = std::fabs(double(f) - double(a)), db = std::fabs(double(f) - double(b));
  if (da < db) return a;
  if (db < da) return b;
  return ((lo >> 16) & 1u) == 0 ? a : b;
}

TEST(Bf16, RoundsToNearestEvenLikeTheDevice) {
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.0f)), 1.0f);
  EXPECT_EQ(FloatToBf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(FloatToBf16(-2.5f).bits, 0xc020);
  EXPECT_EQ(RoundToBf16(1.0f + 1.0f / 256), 1.0f);                // a tie: to even (down)
  EXPECT_EQ(RoundToBf16(1.0f + 3.0f / 256), 1.0f + 4.0f / 256);   // a tie: to even (up)
  EXPECT_EQ(RoundToBf16(1.0f + 1.5f / 256), 1.0f + 2.0f / 256);   // above the tie: up
  EXPECT_EQ(RoundToBf16(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_EQ(RoundToBf16(FLT_MAX), std::numeric_limits<float>::infinity());  // past bf16's largest: overflows
  EXPECT_TRUE(std::isnan(RoundToBf16(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(RoundToBf16(-std::numeric_limits<float>::signaling_NaN())));
  EXPECT_EQ(bf16_t(0).bits, 0);

  std::mt19937 g(11);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = bits(g);
    if ((u & 0x7f800000u) == 0x7f800000u) continue;  // inf/NaN: above
    float f;
    std::memcpy(&f, &u, 4);
    const float want = NearestBf16(f);
    const float got = RoundToBf16(f);
    if (std::isinf(got)) continue;  // rounding past the largest finite bf16 (the brute force has no inf)
    ASSERT_EQ(got, want) << "f=" << f;
    if (std::fabs(f) > 1e-30f) {
      ASSERT_LE(std::fabs(double(got) - f) / std::fabs(double(f)), kBf16Unit);
    }
  }
}

// The reference ops round their bf16 outputs and keep the float ones (the
// += contracts too): each against the float op on the widened inputs.
TEST(Bf16, ReferenceOpsAreTheFloatOpsOnRoundedOperands) {
  const int64_t N = 11, C = 12, OC = 10, NH = 2, HD = 6, A = NH * HD;
  const std::vector<int32_t> cu{0, 4, 11};
  auto bf = [](const std::vector<float>& v) {
    std::vector<bf16_t> o(v.size());
    ops::bf16act::Narrow(o.data(), v.data(), int64_t(v.size()));
    return o;
  };
  auto widen = [](const std::vector<bf16_t>& v) { return ops::bf16act::Widen(v.data(), int64_t(v.size())); };
  const std::vector<float> x = testing_support::RandomFloats(N * C, 1, 1.0f);
  const std::vector<float> w = testing_support::RandomFloats(OC * C, 2, 0.5f), b = testing_support::RandomFloats(OC, 3, 0.1f);
  const std::vector<bf16_t> xb = bf(x);
  const std::vector<float> xr = widen(xb);

  // matmul forward into bf16 and into float
  std::vector<bf16_t> yb(size_t(N * OC));
  std::vector<float> yf(size_t(N * OC)), ref(size_t(N * OC));
  ops::bf16act::matmul_forward(yb.data(), xb.data(), w.data(), b.data(), N, C, OC);
  ops::bf16act::matmul_forward_f32(yf.data(), xb.data(), w.data(), b.data(), N, C, OC);
  ops::matmul_forward<float>(ref.data(), xr.data(), w.data(), b.data(), N, C, OC);
  EXPECT_EQ(yf, ref);
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(yb[i].bits, FloatToBf16(ref[i]).bits) << i;

  // matmul backward: += into float grads from the bf16 input
  const std::vector<float> dout = testing_support::RandomFloats(N * OC, 4, 1.0f);
  std::vector<float> dx = testing_support::RandomFloats(N * C, 5, 1.0f), dw(size_t(OC * C), 0.5f), db(size_t(OC), -1.0f);
  std::vector<float> dx_r = dx, dw_r = dw, db_r = db;
  ops::bf16act::matmul_backward(dx.data(), dw.data(), db.data(), dout.data(), xb.data(), w.data(), N, C, OC);
  ops::matmul_backward<float>(dx_r.data(), dw_r.data(), db_r.data(), dout.data(), xr.data(), w.data(), N, C, OC);
  EXPECT_EQ(dx, dx_r);
  EXPECT_EQ(dw, dw_r);
  EXPECT_EQ(db, db_r);

  // attention over two packed sequences
  const std::vector<bf16_t> qkv = bf(testing_support::RandomFloats(N * 3 * A, 6, 1.0f));
  const std::vector<float> qkv_r = widen(qkv);
  std::vector<bf16_t> att(size_t(N * A));
  std::vector<float> lse(size_t(N * NH)), att_r(size_t(N * A)), lse_r(size_t(N * NH));
  ops::bf16act::attention_forward(att.data(), lse.data(), qkv.data(), cu.data(), 2, 7, NH, HD, true);
  ops::attention_forward<float>(att_r.data(), lse_r.data(), qkv_r.data(), cu.data(), 2, 7, NH, HD, true);
  EXPECT_EQ(lse, lse_r);
  for (size_t i = 0; i < att_r.size(); ++i) ASSERT_EQ(att[i].bits, FloatToBf16(att_r[i]).bits) << i;
  const std::vector<float> datt = testing_support::RandomFloats(N * A, 7, 1.0f);
  std::vector<float> dqkv = testing_support::RandomFloats(N * 3 * A, 8, 1.0f), dqkv_r = dqkv;
  ops::bf16act::attention_backward(dqkv.data(), datt.data(), qkv.data(), att.data(), lse.data(), cu.data(), 2, 7, NH,
                                   HD, true);
  const std::vector<float> att_w = widen(att);
  ops::attention_backward<float>(dqkv_r.data(), datt.data(), qkv_r.data(), att_w.data(), lse.data(), cu.data(), 2, 7,
                                 NH, HD, true);
  EXPECT_EQ(dqkv, dqkv_r);

  // swiglu and gelu
  const int64_t H = C / 2;
  std::vector<bf16_t> s(size_t(N * H)), gl(size_t(N * C));
  std::vector<float> s_r(size_t(N * H)), g_r(size_t(N * C));
  ops::bf16act::swiglu_forward(s.data(), xb.data(), N, H);
  ops::swiglu_forward<float>(s_r.data(), xr.data(), N, H);
  ops::bf16act::gelu_forward(gl.data(), xb.data(), N * C);
  ops::gelu_forward<float>(g_r.data(), xr.data(), N * C);
  for (size_t i = 0; i < s_r.size(); ++i) ASSERT_EQ(s[i].bits, FloatToBf16(s_r[i]).bits) << i;
  for (size_t i = 0; i < g_r.size(); ++i) ASSERT_EQ(gl[i].bits, FloatToBf16(g_r[i]).bits) << i;
  const std::vector<float> ds = testing_support::RandomFloats(N * H, 9, 1.0f), dg = testing_support::RandomFloats(N * C, 10, 1.0f);
  std::vector<float> dxs = testing_support::RandomFloats(N * C, 12, 1.0f), dxs_r = dxs, dxg = dxs, dxg_r = dxs;
  ops::bf16act::swiglu_backward(dxs.data(), ds.data(), xb.data(), N, H);
  ops::swiglu_backward<float>(dxs_r.data(), ds.data(), xr.data(), N, H);
  ops::bf16act::gelu_backward(dxg.data(), dg.data(), xb.data(), N * C);
  ops::gelu_backward<float>(dxg_r.data(), dg.data(), xr.data(), N * C);
  EXPECT_EQ(dxs, dxs_r);
  EXPECT_EQ(dxg, dxg_r);

  // norms: float statistics, bf16 output
  const std::vector<float> nw = testing_support::RandomFloats(C, 13, 1.0f), nb = testing_support::RandomFloats(C, 14, 0.1f);
  std::vector<bf16_t> n1(size_t(N * C)), n2(size_t(N * C));
  const size_t n_rows = static_cast<size_t>(N);
  std::vector<float> rs(n_rows), mean(n_rows), rs2(n_rows), n_r(n_rows * size_t(C)), rs_r(n_rows), mean_r(n_rows);
  ops::bf16act::rmsnorm_forward(n1.data(), rs.data(), x.data(), nw.data(), N, C, 1e-5f);
  ops::rmsnorm_forward<float>(n_r.data(), rs_r.data(), x.data(), nw.data(), N, C);
  EXPECT_EQ(rs, rs_r);
  for (size_t i = 0; i < n_r.size(); ++i) ASSERT_EQ(n1[i].bits, FloatToBf16(n_r[i]).bits) << i;
  ops::bf16act::layernorm_forward(n2.data(), mean.data(), rs2.data(), x.data(), nw.data(), nb.data(), N, C, 1e-5f);
  ops::layernorm_forward<float>(n_r.data(), mean_r.data(), rs_r.data(), x.data(), nw.data(), nb.data(), N, C);
  EXPECT_EQ(mean, mean_r);
  EXPECT_EQ(rs2, rs_r);
  for (size_t i = 0; i < n_r.size(); ++i) ASSERT_EQ(n2[i].bits, FloatToBf16(n_r[i]).bits) << i;
}


struct BlockRun {
  std::vector<float> out, dinp, grads;
  size_t cache_bytes = 0;
  bool bf16 = false;
};

// One block forward + backward over two packed sequences; backend null = host.
BlockRun RunBlock(const nn::BlockConfig& cfg, const ops::Backend* backend) {
  const int64_t N = 13, C = cfg.width;
  const std::vector<int32_t> cu{0, 5, 13};
  const std::vector<float> x = testing_support::RandomFloats(N * C, 21, 1.0f);
  const std::vector<float> dout = testing_support::RandomFloats(N * C, 22, 1.0f);
  ParamBuffer pb;
  nn::TransformerBlock block;
  block.Declare(pb, "b.", cfg);
  pb.Allocate();
  block.Init(pb, 7, 2);
  testing_support::Perturb(pb, 23);  // non-zero biases and norm weights
  std::optional<ops::ScopedBackend> scope;
  if (backend != nullptr) {
    scope.emplace(*backend);
    pb.MoveToDevice();
  }
  Tensor dx = testing_support::Put(x), ddout = testing_support::Put(dout), out({N, C}), dinp({N, C});
  TensorT<int32_t> dcu;
  dcu.AssignFromHost(cu);
  nn::BlockCache cache;
  block.Forward(cache, pb, out.data(), dx.data(), N, dcu.data(), 2, 8);
  block.Backward(cache, pb, dinp.data(), ddout.data(), dx.data(), N, dcu.data(), 2, 8);
  return {out.ToHost(), dinp.ToHost(), pb.GradsToHost(), cache.bytes(), cache.qkv.bf16()};
}

nn::BlockConfig LlmBlock() {
  nn::BlockConfig c;
  c.width = 32;
  c.heads = 2;
  c.hidden = 48;
  c.rmsnorm = c.swiglu = c.causal = true;
  return c;
}

nn::BlockConfig VitBlock() {
  nn::BlockConfig c = LlmBlock();
  c.rmsnorm = c.swiglu = c.causal = false;
  return c;
}

TEST(Bf16Activations, ABlockKeepsItsGemmActivationsInBf16AtHalfTheBytes) {
  for (const nn::BlockConfig& cfg : {LlmBlock(), VitBlock()}) {
    SCOPED_TRACE(cfg.swiglu ? "llm block" : "vit block");
    const BlockRun host = RunBlock(cfg, nullptr);
    GuardedDevice dev;
    GuardedOps gops(&dev, /*bf16_activations=*/true);
    const ops::Backend backend = gops.backend();
    const BlockRun bf = RunBlock(cfg, &backend);

    // Storage: ln1, qkv, att, ln2, fc, act in bf16; res1 and statistics float.
    const size_t N = 13, C = size_t(cfg.width), H = size_t(cfg.hidden), F = cfg.swiglu ? 2 * H : H,
                 NH = size_t(cfg.heads);
    const size_t stored = N * (2 * C + 3 * C + C + F + H), kept_float = N * (4 + NH + C);
    EXPECT_FALSE(host.bf16);
    EXPECT_TRUE(bf.bf16);
    EXPECT_EQ(host.cache_bytes, 4 * (stored + kept_float));
    EXPECT_EQ(bf.cache_bytes, 2 * stored + 4 * kept_float);
    EXPECT_LT(double(bf.cache_bytes), 0.6 * double(host.cache_bytes));

    // Numbers: within bf16's precision of the float run, and really rounded.
    const double e_out = NormalisedError(bf.out, host.out), e_dinp = NormalisedError(bf.dinp, host.dinp),
                 e_grads = NormalisedError(bf.grads, host.grads);
    std::printf("block (%s): saved bytes %zu vs %zu (%.3fx); normalised error out %.2e dinp %.2e grads %.2e\n",
                cfg.swiglu ? "llm" : "vit", bf.cache_bytes, host.cache_bytes,
                double(bf.cache_bytes) / double(host.cache_bytes), e_out, e_dinp, e_grads);
    EXPECT_LT(e_out, kBf16Unit);
    EXPECT_LT(e_dinp, kBf16Unit);
    EXPECT_LT(e_grads, kBf16Unit);
    EXPECT_NE(bf.out, host.out);
    EXPECT_NE(bf.grads, host.grads);
  }
}

// A float table on the same fake device keeps float storage: the bf16
// buffers come only from a backend with bf16 activation ops.
TEST(Bf16Activations, AFloatDeviceKeepsFloatActivations) {
  GuardedDevice dev;
  GuardedOps gops(&dev);
  const ops::Backend backend = gops.backend();
  const BlockRun host = RunBlock(LlmBlock(), nullptr), device = RunBlock(LlmBlock(), &backend);
  EXPECT_FALSE(device.bf16);
  EXPECT_EQ(device.cache_bytes, host.cache_bytes);
  EXPECT_EQ(device.out, host.out);
  EXPECT_EQ(device.grads, host.grads);
}

TEST(Bf16Activations, TheLlmFollowsTheFloatRun) {
  const LlmConfig cfg = testing_support::SmallDeviceLlm();
  const testing_support::LlmRunResult host = testing_support::RunLlmOnce(cfg, 13, nullptr);
  GuardedDevice dev;
  GuardedOps gops(&dev, true);
  const ops::Backend backend = gops.backend();
  const testing_support::LlmRunResult bf = testing_support::RunLlmOnce(cfg, 13, &backend);
  const double e_loss = std::fabs(bf.loss - host.loss) / std::fabs(host.loss);
  const double e_logits = NormalisedError(bf.logits, host.logits), e_gen = NormalisedError(bf.gen_hidden, host.gen_hidden),
               e_dimg = NormalisedError(bf.dimage_emb, host.dimage_emb), e_grads = NormalisedError(bf.grads, host.grads);
  std::printf("llm: loss %.2e logits %.2e gen_hidden %.2e dimage %.2e grads %.2e\n", e_loss, e_logits, e_gen, e_dimg,
              e_grads);
  EXPECT_EQ(bf.count, host.count);
  EXPECT_LT(e_loss, 0.01 * kBf16Unit);
  EXPECT_LT(e_logits, kBf16Unit);
  EXPECT_LT(e_gen, kBf16Unit);
  EXPECT_LT(e_dimg, kBf16Unit);
  EXPECT_LT(e_grads, kBf16Unit);
  EXPECT_NE(bf.logits, host.logits);
}

TEST(Bf16Activations, TheVitAndTheDitFollowTheFloatRun) {
  const testing_support::VitRun vit_host = testing_support::RunVit(nullptr, 31);
  const testing_support::DitRun dit_host = testing_support::RunDit(nullptr, 37);
  GuardedDevice dev_v, dev_d;
  GuardedOps ops_v(&dev_v, true), ops_d(&dev_d, true);
  const ops::Backend bv = ops_v.backend(), bd = ops_d.backend();
  const testing_support::VitRun vit = testing_support::RunVit(&bv, 31);
  const testing_support::DitRun dit = testing_support::RunDit(&bd, 37);
  const double v_out = std::max(NormalisedError(vit.out_a, vit_host.out_a), NormalisedError(vit.out_b, vit_host.out_b));
  const double v_grads = NormalisedError(vit.grads, vit_host.grads);
  const double d_loss = std::fabs(dit.loss_a - dit_host.loss_a) / std::fabs(dit_host.loss_a);
  const double d_cond = std::max(NormalisedError(dit.dcond_a, dit_host.dcond_a), NormalisedError(dit.dcond_b, dit_host.dcond_b));
  const double d_grads = NormalisedError(dit.grads, dit_host.grads), d_pred = NormalisedError(dit.pred, dit_host.pred);
  std::printf("vit: out %.2e grads %.2e; dit: loss %.2e dcond %.2e grads %.2e pred %.2e\n", v_out, v_grads, d_loss,
              d_cond, d_grads, d_pred);
  EXPECT_LT(v_out, kBf16Unit);
  EXPECT_LT(v_grads, kBf16Unit);
  EXPECT_LT(d_loss, 0.01 * kBf16Unit);
  EXPECT_LT(d_cond, kBf16Unit);
  EXPECT_LT(d_grads, kBf16Unit);
  EXPECT_LT(d_pred, kBf16Unit);
  EXPECT_NE(vit.out_a, vit_host.out_a);
  EXPECT_NE(dit.grads, dit_host.grads);
}

// The whole single-process training step (three modules, losses, clip,
// AdamW) with bf16 activations follows the float run's losses.
TEST(Bf16Activations, TheTinyJobTrainsAlongTheFloatRun) {
  auto cfg = LoadJobConfig("tests/data/jobs/tiny.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  cfg->train.threads = 1;
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("braid_bf16_train_" + std::to_string(getpid()));
  auto train = [&](const std::string& name, const ops::Backend* backend) {
    std::filesystem::remove_all(root / name);
    train::TrainOptions opt;
    opt.run_dir = (root / name).string();
    opt.progress = false;
    opt.backend = backend;
    auto s = train::TrainSingleProcess(*cfg, opt);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : train::TrainSummary{};
  };
  const train::TrainSummary host = train("host", nullptr);
  GuardedDevice dev;
  GuardedOps gops(&dev, true);
  const ops::Backend backend = gops.backend();
  const train::TrainSummary bf = train("bf16", &backend);
  std::filesystem::remove_all(root);
  std::printf("tiny job: loss %.6f -> %.6f (float %.6f -> %.6f), gen %.6f (float %.6f)\n", bf.first_loss,
              bf.last_loss, host.first_loss, host.last_loss, bf.last_gen_loss, host.last_gen_loss);
  EXPECT_EQ(bf.steps_run, host.steps_run);
  EXPECT_NEAR(bf.first_loss, host.first_loss, 0.01 * kBf16Unit * std::fabs(host.first_loss));
  EXPECT_NEAR(bf.last_loss, host.last_loss, 0.01 * kBf16Unit * std::fabs(host.last_loss));
  EXPECT_NEAR(bf.last_gen_loss, host.last_gen_loss, 0.01 * kBf16Unit * std::fabs(host.last_gen_loss));
  EXPECT_NE(bf.last_loss, host.last_loss);
}

}  // namespace
}  // namespace braid
