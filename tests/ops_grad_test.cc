// Gradient checks for every CPU op: the analytic backward (float64) against
// central finite differences (float64), and the float32 path against the
// float64 path. Tolerance: normalised max error <= 1e-3 (the bar).
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>

#include "common/ops/cpu/activation.h"
#include "common/ops/cpu/attention.h"
#include "common/ops/cpu/embedding.h"
#include "common/ops/cpu/loss.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/norm.h"
#include "tests/op_check.h"

namespace braid {
namespace {

using namespace braid::ops;
using testing_util::DotVec;
using testing_util::NumericGrad;
using testing_util::RandomVec;
using testing_util::RelErr;
using testing_util::ToFloat;

constexpr double kTol = 1e-3;

// An op under test, written once and run at both precisions.
// run(inputs, dout, grads_out) returns the forward output; when dout is
// non-null it also fills grads_out (one per input) with the backward pass.
template <typename T>
using OpFn = std::function<std::vector<T>(const std::vector<std::vector<T>>& in, const std::vector<T>* dout,
                                          std::vector<std::vector<T>>* grads)>;

struct OpSpec {
  std::string name;
  std::vector<size_t> input_sizes;
  std::vector<double> input_scales;  // default 1
  OpFn<double> f64;
  OpFn<float> f32;
};

void CheckOp(const OpSpec& op) {
  std::vector<std::vector<double>> in;
  for (size_t i = 0; i < op.input_sizes.size(); ++i) {
    double scale = i < op.input_scales.size() ? op.input_scales[i] : 1.0;
    in.push_back(RandomVec(op.input_sizes[i], 100 + i, scale));
  }
  std::vector<double> out = op.f64(in, nullptr, nullptr);
  std::vector<double> dout = RandomVec(out.size(), 7);
  std::vector<std::vector<double>> grads;
  op.f64(in, &dout, &grads);
  ASSERT_EQ(grads.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    auto f = [&]() { return DotVec(op.f64(in, nullptr, nullptr), dout); };
    std::vector<double> num = NumericGrad(in[i], f);
    double err = RelErr(grads[i], num);
    std::printf("%-22s input %zu: grad vs finite-diff max rel err %.3e\n", op.name.c_str(), i, err);
    EXPECT_LE(err, kTol) << op.name << " input " << i;
  }
  // float32 path against float64.
  std::vector<std::vector<float>> inf;
  for (auto& v : in) inf.push_back(ToFloat(v));
  std::vector<float> doutf = ToFloat(dout);
  std::vector<std::vector<float>> gradsf;
  std::vector<float> outf = op.f32(inf, &doutf, &gradsf);
  double ferr = RelErr(outf, out);
  std::printf("%-22s forward f32 vs f64 rel err %.3e\n", op.name.c_str(), ferr);
  EXPECT_LE(ferr, kTol);
  for (size_t i = 0; i < in.size(); ++i) {
    double gerr = RelErr(gradsf[i], grads[i]);
    EXPECT_LE(gerr, kTol) << op.name << " f32 grad " << i;
  }
}

#define BOTH(...)                                                                                   \
  [](const auto& in, const auto* dout, auto* grads) {                                                \
    using T = typename std::decay_t<decltype(in)>::value_type::value_type;                          \
    __VA_ARGS__ \
  }

template <typename T>
std::vector<std::vector<T>> ZerosLike(const std::vector<std::vector<T>>& in) {
  std::vector<std::vector<T>> g;
  for (auto& v : in) g.emplace_back(v.size(), T(0));
  return g;
}

TEST(OpsGrad, Matmul) {
  const int64_t N = 5, C = 7, OC = 4;
  auto fn = BOTH({
    std::vector<T> out(N * OC);
    matmul_forward<T>(out.data(), in[0].data(), in[1].data(), in[2].data(), N, C, OC);
    if (dout) {
      *grads = ZerosLike(in);
      matmul_backward<T>((*grads)[0].data(), (*grads)[1].data(), (*grads)[2].data(), dout->data(), in[0].data(),
                         in[1].data(), N, C, OC);
    }
    return out;
  });
  CheckOp({"matmul", {N * C, OC * C, OC}, {}, fn, fn});
}

TEST(OpsGrad, Embedding) {
  const int64_t N = 6, C = 5, V = 4;
  static const int32_t ids[N] = {0, 3, 3, 1, 0, 2};
  auto fn = BOTH({
    std::vector<T> out(N * C);
    embedding_forward<T>(out.data(), ids, in[0].data(), N, C);
    add_positions_forward<T>(out.data(), ids, in[1].data(), N, C);
    if (dout) {
      *grads = ZerosLike(in);
      embedding_backward<T>((*grads)[0].data(), dout->data(), ids, N, C);
      add_positions_backward<T>((*grads)[1].data(), dout->data(), ids, N, C);
    }
    return out;
  });
  CheckOp({"embedding+positions", {V * C, V * C}, {}, fn, fn});
}

TEST(OpsGrad, RmsNorm) {
  const int64_t N = 4, C = 8;
  auto fn = BOTH({
    std::vector<T> out(N * C), rstd(N);
    rmsnorm_forward<T>(out.data(), rstd.data(), in[0].data(), in[1].data(), N, C);
    if (dout) {
      *grads = ZerosLike(in);
      rmsnorm_backward<T>((*grads)[0].data(), (*grads)[1].data(), dout->data(), in[0].data(), in[1].data(),
                          rstd.data(), N, C);
    }
    return out;
  });
  CheckOp({"rmsnorm", {N * C, C}, {}, fn, fn});
}

TEST(OpsGrad, LayerNorm) {
  const int64_t N = 4, C = 8;
  auto fn = BOTH({
    std::vector<T> out(N * C), mean(N), rstd(N);
    layernorm_forward<T>(out.data(), mean.data(), rstd.data(), in[0].data(), in[1].data(), in[2].data(), N, C);
    if (dout) {
      *grads = ZerosLike(in);
      layernorm_backward<T>((*grads)[0].data(), (*grads)[1].data(), (*grads)[2].data(), dout->data(), in[0].data(),
                            in[1].data(), mean.data(), rstd.data(), N, C);
    }
    return out;
  });
  CheckOp({"layernorm", {N * C, C, C}, {}, fn, fn});
}

void CheckAttention(bool causal) {
  // Three packed sequences of lengths 3, 1 and 5.
  static const int32_t cu[4] = {0, 3, 4, 9};
  const int64_t N = 9, NH = 2, HD = 4;
  auto fn = [causal](const auto& in, const auto* dout, auto* grads) {
    using T = typename std::decay_t<decltype(in)>::value_type::value_type;
    std::vector<T> out(N * NH * HD), lse(N * NH);
    attention_forward<T>(out.data(), lse.data(), in[0].data(), cu, 3, 0, NH, HD, causal);
    if (dout) {
      *grads = ZerosLike(in);
      attention_backward<T>((*grads)[0].data(), dout->data(), in[0].data(), out.data(), lse.data(), cu, 3, 0, NH, HD,
                            causal);
    }
    return out;
  };
  CheckOp({causal ? "attention(causal)" : "attention(bidir)", {N * 3 * NH * HD}, {}, fn, fn});
}

TEST(OpsGrad, AttentionCausal) { CheckAttention(true); }
TEST(OpsGrad, AttentionBidirectional) { CheckAttention(false); }

TEST(OpsGrad, Gelu) {
  const int64_t n = 20;
  auto fn = BOTH({
    std::vector<T> out(n);
    gelu_forward<T>(out.data(), in[0].data(), n);
    if (dout) {
      *grads = ZerosLike(in);
      gelu_backward<T>((*grads)[0].data(), dout->data(), in[0].data(), n);
    }
    return out;
  });
  CheckOp({"gelu", {n}, {2.0}, fn, fn});
}

TEST(OpsGrad, SwiGlu) {
  const int64_t N = 3, H = 5;
  auto fn = BOTH({
    std::vector<T> out(N * H);
    swiglu_forward<T>(out.data(), in[0].data(), N, H);
    if (dout) {
      *grads = ZerosLike(in);
      swiglu_backward<T>((*grads)[0].data(), dout->data(), in[0].data(), N, H);
    }
    return out;
  });
  CheckOp({"swiglu", {N * 2 * H}, {2.0}, fn, fn});
}

TEST(OpsGrad, Residual) {
  const int64_t n = 12;
  auto fn = BOTH({
    std::vector<T> out(n);
    residual_forward<T>(out.data(), in[0].data(), in[1].data(), n);
    if (dout) {
      *grads = ZerosLike(in);
      residual_backward<T>((*grads)[0].data(), (*grads)[1].data(), dout->data(), n);
    }
    return out;
  });
  CheckOp({"residual", {n, n}, {}, fn, fn});
}

TEST(OpsGrad, CrossEntropyWithIgnore) {
  const int64_t N = 5, V = 6;
  static const int32_t targets[N] = {2, -1, 0, 5, -1};
  auto fn = BOTH({
    int64_t count = 0;
    double loss = cross_entropy_host<T>(nullptr, in[0].data(), targets, N, V, &count);
    EXPECT_EQ(count, 3);
    if (dout) {
      *grads = ZerosLike(in);
      cross_entropy_backward<T>((*grads)[0].data(), in[0].data(), targets, N, V, T((*dout)[0]) / T(count));
    }
    return std::vector<T>{T(loss / double(count))};
  });
  CheckOp({"cross_entropy", {N * V}, {2.0}, fn, fn});
}

TEST(OpsGrad, CrossEntropyIgnoredRowsGetNoGradient) {
  const int64_t N = 2, V = 3;
  const int32_t targets[N] = {-1, 1};
  std::vector<float> logits = {0.1f, 0.2f, 0.3f, 1.0f, -1.0f, 0.5f};
  std::vector<float> d(N * V, 0.0f);
  cross_entropy_backward<float>(d.data(), logits.data(), targets, N, V, 1.0f);
  for (int v = 0; v < V; ++v) EXPECT_EQ(d[v], 0.0f);
  float row_sum = d[3] + d[4] + d[5];
  EXPECT_NEAR(row_sum, 0.0f, 1e-6);
}

TEST(OpsGrad, Mse) {
  const int64_t n = 10;
  auto fn = BOTH({
    double l = squared_error_host<T>(in[0].data(), in[1].data(), n);
    if (dout) {
      *grads = ZerosLike(in);
      mse_backward<T>((*grads)[0].data(), in[0].data(), in[1].data(), n, T((*dout)[0]) / T(n));
      // d/dtarget = -d/dpred
      for (int64_t i = 0; i < n; ++i) (*grads)[1][i] = -(*grads)[0][i];
    }
    return std::vector<T>{T(l / double(n))};
  });
  CheckOp({"mse", {n, n}, {}, fn, fn});
}

TEST(OpsGrad, GemmTransposes) {
  // C = A^T B^T checked against a naive triple loop.
  const int64_t M = 3, N = 4, K = 5;
  auto A = RandomVec(K * M, 1), B = RandomVec(N * K, 2);
  std::vector<double> C(M * N, 0.0), ref(M * N, 0.0);
  gemm<double>(true, true, M, N, K, 1.0, A.data(), M, B.data(), K, 0.0, C.data(), N);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k) ref[i * N + j] += A[k * M + i] * B[j * K + k];
  EXPECT_LE(RelErr(C, ref), 1e-12);
}

}  // namespace
}  // namespace braid
