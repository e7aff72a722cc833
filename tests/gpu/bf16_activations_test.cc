// bf16 activation storage on the CUDA backend (backend.h, Bf16ActivationOps;
// cuda_backend.h, CudaBf16ActivationOps): every entry of the table against
// its CPU reference (ops::bf16act, cpu/bf16_activations.h: bf16 operands
// widened, the float CPU op, bf16 outputs rounded to nearest even) on fresh
// random inputs at odd sizes. bf16 outputs are compared after widening,
// float outputs directly; the += contracts on gradients pre-filled with
// random values. The GEMM entries see bf16-valued weights and dout (what the
// device rounds them to), run with the weight cast on the fly (no backend)
// and from the bf16 mirror of an autocast backend. The table is the autocast table's bf16_activations.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/ops/backend.h"
#include "common/ops/bf16.h"
#include "common/ops/cpu/bf16_activations.h"
#include "common/ops/cuda/cuda_backend.h"
#include "tests/gpu/gpu_fixture.h"

namespace braid::gputest {
namespace {

namespace ref = ops::bf16act;

std::vector<bf16_t> RandomBf16(int64_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  const std::vector<float> v = RandomVector(n, seed, lo, hi);
  std::vector<bf16_t> out(v.size());
  ref::Narrow(out.data(), v.data(), n);
  return out;
}

std::vector<float> Wide(const std::vector<bf16_t>& v) {
  return ref::Widen(v.data(), static_cast<int64_t>(v.size()));
}

// got - base, element by element (the increment of a += op), in double.
std::vector<double> Delta(const std::vector<float>& got, const std::vector<float>& base) {
  std::vector<double> out(got.size());
  for (size_t i = 0; i < got.size() && i < base.size(); ++i)
    out[i] = static_cast<double>(got[i]) - static_cast<double>(base[i]);
  return out;
}

// Columns [part*A, (part+1)*A) of a (N, 3A) increment.
std::vector<double> Part(const std::vector<double>& v, int64_t N, int64_t A, int part) {
  std::vector<double> out;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < A; ++c) out.push_back(v[static_cast<size_t>(n * 3 * A + part * A + c)]);
  return out;
}

const bf16_t kBf16NaN = bf16_t::FromBits(0x7fc0);

struct MatShape {
  int64_t N, C, OC;
  std::string Name() const { return std::to_string(N) + "x" + std::to_string(C) + "->" + std::to_string(OC); }
};
// Odd sizes, off every tile.
const MatShape kMatShapes[] = {{1, 1, 1}, {37, 72, 100}, {37, 70, 45}};

class Bf16ActivationsGpuTest : public GpuTest {
 protected:
  const ops::Bf16ActivationOps& Table() const { return cuda::CudaBf16ActivationOps(); }

  std::vector<float> DownBf16(const cuda::DeviceArray<bf16_t>& a) { return Wide(Down(a)); }

  // Runs `fn` with the weight [w, w + n) cast on the fly (no backend set:
  // no mirrors) or, when `mirror`, under an autocast backend that holds a
  // bf16 mirror of it.
  template <typename Fn>
  void WithWeight(bool mirror, const float* w, int64_t n, Fn fn) {
    if (!mirror) {
      fn();
      return;
    }
    cuda::CudaBackend backend(ctx_.get(), cuda::Precision::kBf16Autocast);
    Status s = backend.RegisterParams(w, n);
    ASSERT_TRUE(s.ok()) << s.ToString();
    {
      ops::ScopedBackend scope(backend.backend());
      ASSERT_NE(backend.shadows()->Lookup(w, n), nullptr) << "the weight has no mirror";
      fn();
    }
    backend.UnregisterParams(w);
  }
};

TEST_F(Bf16ActivationsGpuTest, TableIsCompleteAndHookedIntoAutocast) {
  const ops::Bf16ActivationOps& t = Table();
  EXPECT_NE(t.rmsnorm_forward, nullptr);
  EXPECT_NE(t.layernorm_forward, nullptr);
  EXPECT_NE(t.matmul_forward, nullptr);
  EXPECT_NE(t.matmul_forward_f32, nullptr);
  EXPECT_NE(t.matmul_backward, nullptr);
  EXPECT_NE(t.attention_forward, nullptr);
  EXPECT_NE(t.attention_backward, nullptr);
  EXPECT_NE(t.gelu_forward, nullptr);
  EXPECT_NE(t.gelu_backward, nullptr);
  EXPECT_NE(t.swiglu_forward, nullptr);
  EXPECT_NE(t.swiglu_backward, nullptr);
  EXPECT_EQ(cuda::CudaAutocastOps().bf16_activations, &cuda::CudaBf16ActivationOps());
  cuda::CudaBackend autocast(ctx_.get(), cuda::Precision::kBf16Autocast);
  ops::ScopedBackend scope(autocast.backend());
  EXPECT_EQ(ops::CurrentBf16ActivationOps(), &cuda::CudaBf16ActivationOps());
}

TEST_F(Bf16ActivationsGpuTest, NormsMatchCpu) {
  const int64_t N = 37, C = 72;
  const uint64_t seed = TestSeed("bf16act_norm");
  const auto inp = RandomVector(N * C, seed, -3.f, 3.f), w = RandomVector(C, seed + 1),
             b = RandomVector(C, seed + 2);
  std::vector<bf16_t> rms_ref(static_cast<size_t>(N * C)), ln_ref(static_cast<size_t>(N * C));
  std::vector<float> rms_rstd_ref(N), mean_ref(N), rstd_ref(N);
  ref::rmsnorm_forward(rms_ref.data(), rms_rstd_ref.data(), inp.data(), w.data(), N, C, 1e-5f);
  ref::layernorm_forward(ln_ref.data(), mean_ref.data(), rstd_ref.data(), inp.data(), w.data(), b.data(), N, C,
                         1e-5f);

  auto d_inp = Up(inp);
  auto d_w = Up(w);
  auto d_b = Up(b);
  auto d_rms = Up(std::vector<bf16_t>(static_cast<size_t>(N * C), kBf16NaN));
  auto d_ln = Up(std::vector<bf16_t>(static_cast<size_t>(N * C), kBf16NaN));
  auto d_rms_rstd = Zeros<float>(N);
  auto d_mean = Zeros<float>(N);
  auto d_rstd = Zeros<float>(N);
  Table().rmsnorm_forward(d_rms.data(), d_rms_rstd.data(), d_inp.data(), d_w.data(), N, C, 1e-5f);
  Table().layernorm_forward(d_ln.data(), d_mean.data(), d_rstd.data(), d_inp.data(), d_w.data(), d_b.data(), N, C,
                            1e-5f);
  EXPECT_LE(NormalisedError(DownBf16(d_rms), Wide(rms_ref)), kBf16Bound) << "rmsnorm out";
  EXPECT_LE(NormalisedError(Down(d_rms_rstd), rms_rstd_ref), kFp32Bound) << "rmsnorm rstd (float)";
  EXPECT_LE(NormalisedError(DownBf16(d_ln), Wide(ln_ref)), kBf16Bound) << "layernorm out";
  EXPECT_LE(NormalisedError(Down(d_mean), mean_ref), kFp32Bound) << "layernorm mean (float)";
  EXPECT_LE(NormalisedError(Down(d_rstd), rstd_ref), kFp32Bound) << "layernorm rstd (float)";
}

TEST_F(Bf16ActivationsGpuTest, MatmulForwardMatchesCpu) {
  for (const MatShape& s : kMatShapes)
    for (bool mirror : {false, true})
      for (int bias_offset : {-1, 0, 1}) {  // -1: no bias; 1: a 4-byte aligned bias (not fused)
        SCOPED_TRACE(s.Name() + (mirror ? " mirrored weight" : " weight cast") + " bias offset " +
                     std::to_string(bias_offset));
        const uint64_t seed = TestSeed("bf16act_mm_fwd" + s.Name());
        const auto inp = RandomBf16(s.N * s.C, seed);
        // The device runs the GEMM on the bf16 weight (its mirror or a cast):
        // the reference gets the same (bf16-valued) weight.
        const auto w = RoundBf16(RandomVector(s.OC * s.C, seed + 1)), b = RandomVector(s.OC + 1, seed + 2);
        const float* b_host = bias_offset < 0 ? nullptr : b.data() + bias_offset;
        std::vector<bf16_t> out_ref(static_cast<size_t>(s.N * s.OC));
        std::vector<float> out32_ref(static_cast<size_t>(s.N * s.OC));
        ref::matmul_forward(out_ref.data(), inp.data(), w.data(), b_host, s.N, s.C, s.OC);
        ref::matmul_forward_f32(out32_ref.data(), inp.data(), w.data(), b_host, s.N, s.C, s.OC);

        auto d_inp = Up(inp);
        auto d_w = Up(w);
        auto d_b = Up(b);
        auto d_out = Up(std::vector<bf16_t>(out_ref.size(), kBf16NaN));
        auto d_out32 = Up(std::vector<float>(out32_ref.size(), std::numeric_limits<float>::quiet_NaN()));
        const float* d_bias = bias_offset < 0 ? nullptr : d_b.data() + bias_offset;
        WithWeight(mirror, d_w.data(), s.OC * s.C, [&] {
          Table().matmul_forward(d_out.data(), d_inp.data(), d_w.data(), d_bias, s.N, s.C, s.OC);
          Table().matmul_forward_f32(d_out32.data(), d_inp.data(), d_w.data(), d_bias, s.N, s.C, s.OC);
        });
        EXPECT_LE(NormalisedError(DownBf16(d_out), Wide(out_ref)), kBf16Bound) << "bf16 out";
        EXPECT_LE(NormalisedError(Down(d_out32), out32_ref), kBf16Bound) << "float out";
      }
}

TEST_F(Bf16ActivationsGpuTest, MatmulBackwardAccumulatesFloatGradients) {
  for (const MatShape& s : kMatShapes)
    for (bool mirror : {false, true})
      for (int skip = 0; skip < 4; ++skip) {  // 0: all three; 1: no dinp; 2: no dweight; 3: dbias only
        SCOPED_TRACE(s.Name() + (mirror ? " mirrored weight" : " weight cast") + " skip " + std::to_string(skip));
        const uint64_t seed = TestSeed("bf16act_mm_bwd" + s.Name());
        const auto inp = RandomBf16(s.N * s.C, seed);
        // bf16-valued weight and dout: the operands the device's GEMMs see.
        const auto w = RoundBf16(RandomVector(s.OC * s.C, seed + 1)),
                   dout = RoundBf16(RandomVector(s.N * s.OC, seed + 2));
        const auto dinp0 = RandomVector(s.N * s.C, seed + 3), dw0 = RandomVector(s.OC * s.C, seed + 4),
                   db0 = RandomVector(s.OC, seed + 5);
        const bool with_dinp = skip != 1 && skip != 3, with_dw = skip != 2 && skip != 3;
        auto dinp_ref = dinp0, dw_ref = dw0, db_ref = db0;
        ref::matmul_backward(with_dinp ? dinp_ref.data() : nullptr, with_dw ? dw_ref.data() : nullptr,
                             db_ref.data(), dout.data(), inp.data(), w.data(), s.N, s.C, s.OC);

        auto d_inp = Up(inp);
        auto d_w = Up(w);
        auto d_dout = Up(dout);
        auto d_dinp = Up(dinp0);
        auto d_dw = Up(dw0);
        auto d_db = Up(db0);
        WithWeight(mirror, d_w.data(), s.OC * s.C, [&] {
          Table().matmul_backward(with_dinp ? d_dinp.data() : nullptr, with_dw ? d_dw.data() : nullptr, d_db.data(),
                                  d_dout.data(), d_inp.data(), d_w.data(), s.N, s.C, s.OC);
        });
        // The increments (+=); a skipped gradient stays as it was (both zero).
        EXPECT_LE(NormalisedError(Delta(Down(d_dinp), dinp0), Delta(dinp_ref, dinp0)), kBf16Bound) << "dinp";
        EXPECT_LE(NormalisedError(Delta(Down(d_dw), dw0), Delta(dw_ref, dw0)), kBf16Bound) << "dweight";
        // dbias: a float column sum of the float dout, added to the random
        // start (an overwrite would be off by the start itself).
        EXPECT_LE(NormalisedError(Down(d_db), db_ref), kFp32Bound) << "dbias (float dout)";
      }
}

std::vector<int32_t> CuSeqlens(const std::vector<int>& lens) {
  std::vector<int32_t> cu{0};
  for (int l : lens) cu.push_back(cu.back() + l);
  return cu;
}

TEST_F(Bf16ActivationsGpuTest, AttentionMatchesCpu) {
  // Packed rows {0, 5, 17, 37}, and the same rows with an empty sequence.
  // Head dims: the CUDA kernels take 32, 64 and 128 (attention.h).
  for (const std::vector<int>& lens : {std::vector<int>{5, 12, 20}, std::vector<int>{5, 0, 32}})
    for (int64_t HD : {32, 64})
      for (bool causal : {false, true})
        for (int slack : {0, 3}) {  // max_seqlen above the longest sequence: a larger scratch
          const int64_t NH = 3, A = NH * HD;
          const std::vector<int32_t> cu = CuSeqlens(lens);
          const int num_seqs = static_cast<int>(lens.size());
          int longest = 0;
          for (int l : lens) longest = l > longest ? l : longest;
          const int max_seqlen = longest + slack;
          const int64_t N = cu.back();
          SCOPED_TRACE("seqs " + std::to_string(num_seqs) + " HD " + std::to_string(HD) +
                       (causal ? " causal" : " full") + " slack " + std::to_string(slack));
          const uint64_t seed = TestSeed("bf16act_attn" + std::to_string(num_seqs) + std::to_string(HD));
          const auto qkv = RandomBf16(N * 3 * A, seed, -2.f, 2.f);
          // dout bf16-valued: the device rounds it to bf16 for the kernel.
          const auto dout = RoundBf16(RandomVector(N * A, seed + 1)), dqkv0 = RandomVector(N * 3 * A, seed + 2);
          std::vector<bf16_t> out_ref(static_cast<size_t>(N * A));
          std::vector<float> lse_ref(static_cast<size_t>(N * NH)), dqkv_ref = dqkv0;
          ref::attention_forward(out_ref.data(), lse_ref.data(), qkv.data(), cu.data(), num_seqs, max_seqlen, NH, HD,
                                 causal);
          ref::attention_backward(dqkv_ref.data(), dout.data(), qkv.data(), out_ref.data(), lse_ref.data(), cu.data(),
                                  num_seqs, max_seqlen, NH, HD, causal);

          auto d_cu = Up(cu);
          auto d_qkv = Up(qkv);
          auto d_out = Up(std::vector<bf16_t>(out_ref.size(), kBf16NaN));
          auto d_lse = Zeros<float>(N * NH);
          Table().attention_forward(d_out.data(), d_lse.data(), d_qkv.data(), d_cu.data(), num_seqs, max_seqlen, NH,
                                    HD, causal);
          EXPECT_LE(NormalisedError(DownBf16(d_out), Wide(out_ref)), kBf16Bound) << "out";
          EXPECT_LE(NormalisedError(Down(d_lse), lse_ref), kBf16Bound) << "lse (float)";

          // The backward on the reference's out and lse (the same operands
          // as the CPU's); its gradients pass through bf16 on the device.
          auto d_out_ref = Up(out_ref);
          auto d_lse_ref = Up(lse_ref);
          auto d_dout = Up(dout);
          auto d_dqkv = Up(dqkv0);
          Table().attention_backward(d_dqkv.data(), d_dout.data(), d_qkv.data(), d_out_ref.data(), d_lse_ref.data(),
                                     d_cu.data(), num_seqs, max_seqlen, NH, HD, causal);
          const std::vector<double> got = Delta(Down(d_dqkv), dqkv0), want = Delta(dqkv_ref, dqkv0);
          const char* names[3] = {"dq", "dk", "dv"};
          for (int part = 0; part < 3; ++part)
            EXPECT_LE(NormalisedError(Part(got, N, A, part), Part(want, N, A, part)), kBf16Bound) << names[part];
        }
}

TEST_F(Bf16ActivationsGpuTest, GeluMatchesCpu) {
  for (int64_t n : {1, 3701}) {
    SCOPED_TRACE("n " + std::to_string(n));
    const uint64_t seed = TestSeed("bf16act_gelu" + std::to_string(n));
    const auto inp = RandomBf16(n, seed, -6.f, 6.f);
    const auto dout = RandomVector(n, seed + 1), dinp0 = RandomVector(n, seed + 2);
    std::vector<bf16_t> out_ref(static_cast<size_t>(n));
    std::vector<float> dinp_ref = dinp0;
    ref::gelu_forward(out_ref.data(), inp.data(), n);
    ref::gelu_backward(dinp_ref.data(), dout.data(), inp.data(), n);

    auto d_inp = Up(inp);
    auto d_out = Up(std::vector<bf16_t>(out_ref.size(), kBf16NaN));
    auto d_dout = Up(dout);
    auto d_dinp = Up(dinp0);
    Table().gelu_forward(d_out.data(), d_inp.data(), n);
    Table().gelu_backward(d_dinp.data(), d_dout.data(), d_inp.data(), n);
    EXPECT_LE(NormalisedError(DownBf16(d_out), Wide(out_ref)), kBf16Bound) << "out";
    // Float arithmetic on the same operands, added to the random start (an
    // overwrite would be off by the start itself): the fp32 bound.
    EXPECT_LE(NormalisedError(Down(d_dinp), dinp_ref), kFp32Bound) << "dinp";
  }
}

TEST_F(Bf16ActivationsGpuTest, SwigluMatchesCpu) {
  const int64_t N = 37, H = 100;
  const uint64_t seed = TestSeed("bf16act_swiglu");
  const auto inp = RandomBf16(N * 2 * H, seed, -4.f, 4.f);
  const auto dout = RandomVector(N * H, seed + 1), dinp0 = RandomVector(N * 2 * H, seed + 2);
  std::vector<bf16_t> out_ref(static_cast<size_t>(N * H));
  std::vector<float> dinp_ref = dinp0;
  ref::swiglu_forward(out_ref.data(), inp.data(), N, H);
  ref::swiglu_backward(dinp_ref.data(), dout.data(), inp.data(), N, H);

  auto d_inp = Up(inp);
  auto d_out = Up(std::vector<bf16_t>(out_ref.size(), kBf16NaN));
  auto d_dout = Up(dout);
  auto d_dinp = Up(dinp0);
  Table().swiglu_forward(d_out.data(), d_inp.data(), N, H);
  Table().swiglu_backward(d_dinp.data(), d_dout.data(), d_inp.data(), N, H);
  EXPECT_LE(NormalisedError(DownBf16(d_out), Wide(out_ref)), kBf16Bound) << "out";
  EXPECT_LE(NormalisedError(Down(d_dinp), dinp_ref), kFp32Bound) << "dinp (+=, float)";
}

// N = 0 (and no sequences) is a no-op: nothing launched or allocated, no
// error recorded, the pointers never read (null here).
TEST_F(Bf16ActivationsGpuTest, EmptyShapesAreNoOps) {
  const ops::Bf16ActivationOps& t = Table();
  t.rmsnorm_forward(nullptr, nullptr, nullptr, nullptr, 0, 72, 1e-5f);
  t.layernorm_forward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 72, 1e-5f);
  t.matmul_forward(nullptr, nullptr, nullptr, nullptr, 0, 72, 100);
  t.matmul_forward_f32(nullptr, nullptr, nullptr, nullptr, 0, 72, 100);
  t.matmul_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 72, 100);
  t.attention_forward(nullptr, nullptr, nullptr, nullptr, 0, 0, 3, 32, true);
  t.attention_backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 0, 0, 3, 32, true);
  t.gelu_forward(nullptr, nullptr, 0);
  t.gelu_backward(nullptr, nullptr, nullptr, 0);
  t.swiglu_forward(nullptr, nullptr, 0, 100);
  t.swiglu_backward(nullptr, nullptr, nullptr, 0, 100);
  Status s = ctx_->Synchronize();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

}  // namespace
}  // namespace braid::gputest
