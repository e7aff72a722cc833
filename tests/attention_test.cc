// Attention over packed variable-length sequences: no leakage across samples
// (changing one sample leaves the others bit-identical), causal masking, and
// agreement with a naive single-sequence reference.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/ops/cpu/attention.h"
#include "tests/op_check.h"

namespace braid {
namespace {

using testing_util::RandomVec;
using testing_util::RelErr;
using testing_util::ToFloat;

constexpr int64_t NH = 2, HD = 8, C3 = 3 * NH * HD, C = NH * HD;

std::vector<float> RunAttn(const std::vector<float>& qkv, const std::vector<int32_t>& cu, bool causal,
                       std::vector<float>* dqkv = nullptr, const std::vector<float>* dout = nullptr) {
  int64_t N = cu.back();
  std::vector<float> out(N * C), lse(N * NH);
  ops::attention_forward<float>(out.data(), lse.data(), qkv.data(), cu.data(), int(cu.size()) - 1, 0, NH, HD,
                               causal);
  if (dqkv) {
    dqkv->assign(N * C3, 0.0f);
    ops::attention_backward<float>(dqkv->data(), dout->data(), qkv.data(), out.data(), lse.data(), cu.data(),
                                   int(cu.size()) - 1, 0, NH, HD, causal);
  }
  return out;
}

class PackedAttention : public ::testing::TestWithParam<bool> {};

TEST_P(PackedAttention, ChangingOneSampleLeavesOthersBitIdentical) {
  const bool causal = GetParam();
  std::vector<int32_t> cu = {0, 5, 12, 15};  // lengths 5, 7, 3
  const int64_t N = cu.back();
  std::vector<float> qkv = ToFloat(RandomVec(N * C3, 11));
  std::vector<float> dout = ToFloat(RandomVec(N * C, 12));
  std::vector<float> d1, d2;
  std::vector<float> out1 = RunAttn(qkv, cu, causal, &d1, &dout);
  // Perturb every value of the middle sample (rows 5..11).
  std::vector<float> qkv2 = qkv;
  for (int64_t r = 5; r < 12; ++r)
    for (int64_t c = 0; c < C3; ++c) qkv2[r * C3 + c] += 0.5f;
  std::vector<float> out2 = RunAttn(qkv2, cu, causal, &d2, &dout);
  for (int64_t r = 0; r < N; ++r) {
    bool other = r < 5 || r >= 12;
    for (int64_t c = 0; c < C; ++c) {
      if (other) {
        ASSERT_EQ(out1[r * C + c], out2[r * C + c]) << "forward leak at row " << r;
      }
    }
    for (int64_t c = 0; c < C3; ++c) {
      if (other) {
        ASSERT_EQ(d1[r * C3 + c], d2[r * C3 + c]) << "backward leak at row " << r;
      }
    }
  }
  // And the middle sample did change.
  bool changed = false;
  for (int64_t c = 0; c < C; ++c) changed |= out1[6 * C + c] != out2[6 * C + c];
  EXPECT_TRUE(changed);
}

TEST_P(PackedAttention, PackedEqualsEachSequenceAlone) {
  const bool causal = GetParam();
  std::vector<int32_t> cu = {0, 4, 10};
  std::vector<float> qkv = ToFloat(RandomVec(10 * C3, 21));
  std::vector<float> packed = RunAttn(qkv, cu, causal);
  std::vector<float> second(qkv.begin() + 4 * C3, qkv.end());
  std::vector<float> alone = RunAttn(second, {0, 6}, causal);
  std::vector<float> packed_second(packed.begin() + 4 * C, packed.end());
  EXPECT_EQ(packed_second, alone);
}

INSTANTIATE_TEST_SUITE_P(CausalAndBidirectional, PackedAttention, ::testing::Values(true, false));

TEST(Attention, CausalFirstTokenSeesOnlyItself) {
  std::vector<int32_t> cu = {0, 4};
  std::vector<float> qkv = ToFloat(RandomVec(4 * C3, 31));
  std::vector<float> out = RunAttn(qkv, cu, true);
  for (int64_t h = 0; h < NH; ++h)
    for (int64_t d = 0; d < HD; ++d) EXPECT_FLOAT_EQ(out[h * HD + d], qkv[2 * C + h * HD + d]);
}

TEST(Attention, MatchesNaiveReference) {
  const int64_t L = 6;
  std::vector<double> qkv = RandomVec(L * C3, 41);
  std::vector<int32_t> cu = {0, int32_t(L)};
  for (bool causal : {true, false}) {
    std::vector<double> out(L * C), lse(L * NH);
    ops::attention_forward<double>(out.data(), lse.data(), qkv.data(), cu.data(), 1, 0, NH, HD, causal);
    std::vector<double> ref(L * C, 0.0);
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t i = 0; i < L; ++i) {
        std::vector<double> s(L, -1e300);
        double mx = -1e300;
        for (int64_t j = 0; j < L; ++j) {
          if (causal && j > i) continue;
          double dot = 0;
          for (int64_t d = 0; d < HD; ++d) dot += qkv[i * C3 + h * HD + d] * qkv[j * C3 + C + h * HD + d];
          s[j] = dot / std::sqrt(double(HD));
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (int64_t j = 0; j < L; ++j)
          if (!(causal && j > i)) z += std::exp(s[j] - mx);
        for (int64_t j = 0; j < L; ++j) {
          if (causal && j > i) continue;
          double p = std::exp(s[j] - mx) / z;
          for (int64_t d = 0; d < HD; ++d) ref[i * C + h * HD + d] += p * qkv[j * C3 + 2 * C + h * HD + d];
        }
      }
    EXPECT_LE(RelErr(out, ref), 1e-12) << (causal ? "causal" : "bidirectional");
  }
}

}  // namespace
}  // namespace braid
