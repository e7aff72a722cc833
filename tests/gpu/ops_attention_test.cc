// CUDA flash-style attention (ops/cuda/attention.h) against the CPU
// attention (ops/cpu/attention.h, run in double on the same T-rounded
// inputs), fp32 and bf16: one sequence and packed sequences of mixed lengths
// (including 0, 1 and lengths off the tile sizes), causal and not, HD 32, 64
// and 128, NH 1 and 6; the backward's += contract; run-to-run bit equality;
// unsupported head dims reported through the Context.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "common/ops/cpu/attention.h"
#include "common/ops/cuda/attention.h"
#include "common/ops/cuda/dtype.h"
#include "tests/gpu/gpu_fixture.h"

namespace braid::gputest {
namespace {

using cuda::bf16;

// Long reductions (rows of up to 300 keys): the GEMM-class fp32 bound.
constexpr double kAttnFp32Bound = kFp32GemmBound;

struct Shape {
  std::vector<int> lens;
  int64_t NH;
  int64_t HD;
  bool causal;
  std::string Name() const {
    std::string s = "lens";
    for (int l : lens) s += "_" + std::to_string(l);
    return s + " NH " + std::to_string(NH) + " HD " + std::to_string(HD) + (causal ? " causal" : " full");
  }
};

std::vector<int32_t> CuSeqlens(const std::vector<int>& lens) {
  std::vector<int32_t> cu{0};
  for (int l : lens) cu.push_back(cu.back() + l);
  return cu;
}

std::vector<double> ToDouble(const std::vector<float>& v) { return {v.begin(), v.end()}; }

template <typename T>
std::vector<T> AsT(const std::vector<float>& v) {
  if constexpr (std::is_same_v<T, bf16>) {
    return ToBf16(v);
  } else {
    return v;
  }
}

template <typename T>
std::vector<float> MaybeRound(std::vector<float> v) {
  if constexpr (std::is_same_v<T, bf16>) v = RoundBf16(v);
  return v;
}

// Columns [part * C, (part + 1) * C) of every row of a (N, 3C) tensor, minus
// the same of `base` (the gradient a backward added).
template <typename A, typename B>
std::vector<double> Part(const std::vector<A>& v, const std::vector<B>& base, int64_t N, int64_t C, int part) {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(N * C));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const size_t at = static_cast<size_t>(n * 3 * C + part * C + c);
      out.push_back(static_cast<double>(v[at]) - static_cast<double>(base[at]));
    }
  return out;
}

// max_seqlen_slack: the bound passed is that much above the longest
// sequence (callers pass a bound, not always the exact maximum).
template <typename T>
void CheckAttention(GpuTest* t, const Shape& s, double bound, int max_seqlen_slack = 0) {
  SCOPED_TRACE(s.Name() + (std::is_same_v<T, bf16> ? " bf16" : " fp32") + " slack " +
               std::to_string(max_seqlen_slack));
  const std::vector<int32_t> cu = CuSeqlens(s.lens);
  const int num_seqs = static_cast<int>(s.lens.size());
  const int max_seqlen = *std::max_element(s.lens.begin(), s.lens.end()) + max_seqlen_slack;
  const int64_t N = cu.back(), C = s.NH * s.HD;
  const uint64_t seed = TestSeed("attention " + s.Name());
  const std::vector<float> qkv = MaybeRound<T>(RandomVector(N * 3 * C, seed, -2.f, 2.f));
  const std::vector<float> dout = MaybeRound<T>(RandomVector(N * C, seed + 1));
  // fp32 also checks the += contract on a non-zero gradient; bf16 starts at
  // zero so that rounding the sum does not swamp the (small) increments.
  const std::vector<float> dqkv0 = std::is_same_v<T, bf16> ? std::vector<float>(static_cast<size_t>(N * 3 * C), 0.f)
                                                           : RandomVector(N * 3 * C, seed + 2);

  // CPU reference in double.
  const std::vector<double> qkv_d = ToDouble(qkv), dout_d = ToDouble(dout);
  std::vector<double> out_ref(static_cast<size_t>(N * C)), lse_ref(static_cast<size_t>(N * s.NH));
  std::vector<double> dqkv_ref = ToDouble(dqkv0);
  ops::attention_forward(out_ref.data(), lse_ref.data(), qkv_d.data(), cu.data(), num_seqs, 0, s.NH, s.HD,
                         s.causal);
  ops::attention_backward(dqkv_ref.data(), dout_d.data(), qkv_d.data(), out_ref.data(), lse_ref.data(), cu.data(),
                          num_seqs, 0, s.NH, s.HD, s.causal);

  auto d_cu = t->Up(cu);
  auto d_qkv = t->Up(AsT<T>(qkv));
  auto d_dout = t->Up(AsT<T>(dout));
  auto d_dqkv = t->Up(AsT<T>(dqkv0));
  auto d_out = t->Zeros<T>(N * C);
  auto d_lse = t->Zeros<float>(N * s.NH);
  ops::cuda::attention_forward(d_out.data(), d_lse.data(), d_qkv.data(), d_cu.data(), num_seqs, max_seqlen, s.NH, s.HD,
                               s.causal);
  ops::cuda::attention_backward(d_dqkv.data(), d_dout.data(), d_qkv.data(), d_out.data(), d_lse.data(), d_cu.data(),
                                num_seqs, max_seqlen, s.NH, s.HD, s.causal);
  EXPECT_LE(NormalisedError(t->DownF(d_out), out_ref), bound) << "out";
  EXPECT_LE(NormalisedError(t->DownF(d_lse), lse_ref), kAttnFp32Bound) << "lse";
  const std::vector<float> dqkv = t->DownF(d_dqkv);
  const char* names[3] = {"dq", "dk", "dv"};
  for (int part = 0; part < 3; ++part)
    EXPECT_LE(NormalisedError(Part(dqkv, dqkv0, N, C, part), Part(dqkv_ref, dqkv0, N, C, part)), bound) << names[part];
}

class AttentionGpuTest : public GpuTest {
 protected:
  void CheckAll(const std::vector<int>& lens) {
    for (int64_t HD : {32, 64, 128})
      for (int64_t NH : {1, 6})
        for (bool causal : {false, true}) {
          const Shape s{lens, NH, HD, causal};
          CheckAttention<float>(this, s, kAttnFp32Bound);
          CheckAttention<bf16>(this, s, kBf16Bound);
        }
  }
};

TEST_F(AttentionGpuTest, SingleSequenceMatchesCpu) { CheckAll({300}); }

TEST_F(AttentionGpuTest, PackedMixedLengthsMatchCpu) { CheckAll({1, 7, 64, 0, 65, 300}); }

TEST_F(AttentionGpuTest, LengthOneSequencesMatchCpu) { CheckAll({1, 1, 1}); }

// A max_seqlen above every length: the extra tiles and D rows do nothing.
TEST_F(AttentionGpuTest, LooseMaxSeqlenMatchesCpu) {
  for (bool causal : {false, true}) {
    const Shape s{{5, 130, 0, 64}, 3, 64, causal};
    CheckAttention<float>(this, s, kAttnFp32Bound, 70);
    CheckAttention<bf16>(this, s, kBf16Bound, 1);
  }
}

// Same inputs, twice: forward and backward are bit-identical (no atomics).
TEST_F(AttentionGpuTest, BackwardIsDeterministic) {
  const std::vector<int> lens{65, 300, 7, 129};
  const std::vector<int32_t> cu = CuSeqlens(lens);
  const int64_t NH = 6, HD = 64, N = cu.back(), C = NH * HD;
  const uint64_t seed = TestSeed("attention determinism");
  auto d_cu = Up(cu);
  auto d_qkv = Up(RandomVector(N * 3 * C, seed, -2.f, 2.f));
  auto d_dout = Up(RandomVector(N * C, seed + 1));
  std::vector<float> first_out, first_lse, first_dqkv;
  for (int run = 0; run < 2; ++run) {
    auto d_out = Zeros<float>(N * C);
    auto d_lse = Zeros<float>(N * NH);
    auto d_dqkv = Zeros<float>(N * 3 * C);
    ops::cuda::attention_forward(d_out.data(), d_lse.data(), d_qkv.data(), d_cu.data(), 4, 300, NH, HD, true);
    ops::cuda::attention_backward(d_dqkv.data(), d_dout.data(), d_qkv.data(), d_out.data(), d_lse.data(), d_cu.data(),
                                  4, 300, NH, HD, true);
    std::vector<float> out = Down(d_out), lse = Down(d_lse), dqkv = Down(d_dqkv);
    if (run == 0) {
      first_out = out;
      first_lse = lse;
      first_dqkv = dqkv;
      continue;
    }
    ASSERT_EQ(dqkv.size(), first_dqkv.size());
    EXPECT_EQ(std::memcmp(out.data(), first_out.data(), out.size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(lse.data(), first_lse.data(), lse.size() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(dqkv.data(), first_dqkv.data(), dqkv.size() * sizeof(float)), 0);
  }
}

// An unsupported head dim is an error the op boundary sees, not a crash; the
// Context stays usable.
TEST_F(AttentionGpuTest, UnsupportedHeadDimIsReported) {
  const std::vector<int32_t> cu{0, 5};
  for (int64_t HD : {48, 256}) {
    const int64_t NH = 2, N = 5, C = NH * HD;
    auto d_cu = Up(cu);
    auto d_qkv = Zeros<float>(N * 3 * C);
    auto d_out = Zeros<float>(N * C);
    auto d_lse = Zeros<float>(N * NH);
    ASSERT_TRUE(ctx_->Synchronize().ok());
    ops::cuda::attention_forward(d_out.data(), d_lse.data(), d_qkv.data(), d_cu.data(), 1, 5, NH, HD, false);
    Status s = ctx_->Synchronize();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("head dim " + std::to_string(HD)), std::string::npos) << s.ToString();
    auto d_dqkv = Zeros<float>(N * 3 * C);
    ops::cuda::attention_backward(d_dqkv.data(), d_out.data(), d_qkv.data(), d_out.data(), d_lse.data(), d_cu.data(), 1,
                                  5, NH, HD, false);
    s = ctx_->Synchronize();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("head dim " + std::to_string(HD)), std::string::npos) << s.ToString();
  }
}

}  // namespace
}  // namespace braid::gputest
