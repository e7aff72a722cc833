// Tensor-parallel math against the single-process model (issue 8): the
// transformer block (both flavours), the LLM (vocabulary-parallel embedding
// and cross-entropy) and the ViT encoder, each run as TP 2 and TP 3 with
// the ranks as threads of this process (LocalTpGroup). Every rank starts
// from its slice of the reference's weights and must reproduce the
// reference's outputs, and its slice of every gradient, within 1e-4 of the
// tensor's scale.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "common/data/tokenizer.h"
#include "common/nn/llm.h"
#include "common/nn/transformer_block.h"
#include "common/nn/vit_encoder.h"
#include "common/parallel/local_tp_group.h"

namespace braid::nn {
namespace {

constexpr double kTol = 1e-4;

std::vector<float> Random(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(g);
  return v;
}

// max |a - b| / max(|b|, tiny) over the tensor.
double NormalisedError(const float* a, const float* b, int64_t n) {
  double err = 0, scale = 1e-12;
  for (int64_t i = 0; i < n; ++i) {
    err = std::max(err, std::abs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return err / scale;
}

void ExpectClose(const float* got, const float* want, int64_t n, const std::string& what) {
  EXPECT_LE(NormalisedError(got, want, n), kTol) << what;
}

// A TP group of `tp` threads: run(f) calls f(rank) on each.
struct TpRanks {
  explicit TpRanks(int tp) : group(tp) {
    for (int r = 0; r < tp; ++r) ctx.emplace_back(group.rank(r));
  }
  void Run(const std::function<void(int)>& f) {
    std::vector<std::thread> threads;
    for (int r = 0; r < group.size(); ++r) threads.emplace_back(f, r);
    for (auto& t : threads) t.join();
  }
  parallel::TpContext* operator[](int r) { return &ctx[size_t(r)]; }
  std::string Who(int r) const { return "tp rank " + std::to_string(r) + "/" + std::to_string(group.size()); }
  parallel::LocalTpGroup group;
  std::vector<parallel::TpContext> ctx;
};

LlmConfig SmallLlm() {
  LlmConfig cfg;
  cfg.width = 48;
  cfg.layers = 2;
  cfg.heads = 6;
  cfg.mlp_hidden = 96;
  cfg.max_seq = 32;
  cfg.vocab = 266;  // not divisible by 3 or 4: uneven vocabulary parts
  return cfg;
}

// Each rank's parameters must be its slice of the reference's, and after a
// backward its gradients must be its slice of the reference's gradients.
void ExpectSlicesOf(const ParamBuffer& ref, const ParamBuffer& rank, bool grads, const std::string& who) {
  ASSERT_EQ(ref.views().size(), rank.views().size());
  for (size_t i = 0; i < ref.views().size(); ++i) {
    const ParamView& rv = ref.views()[i];
    const ParamView& v = rank.views()[i];
    ASSERT_EQ(rv.name, v.name);
    ASSERT_EQ(rv.shape, v.full_shape) << v.name;
    const std::vector<float>& src = grads ? ref.grads() : ref.params();
    std::vector<float> want(static_cast<size_t>(v.numel));
    parallel::ExtractShard(src.data() + rv.offset, rv.shape, v.shard, want.data());
    const float* got = (grads ? rank.grads() : rank.params()).data() + v.offset;
    if (grads)
      ExpectClose(got, want.data(), v.numel, who + " grad " + v.name);
    else
      EXPECT_TRUE(std::equal(want.begin(), want.end(), got)) << who << " param " << v.name;
  }
}

class TpBlockTest : public ::testing::TestWithParam<std::tuple<bool, int>> {};

TEST_P(TpBlockTest, ForwardAndBackwardMatchTheWholeBlock) {
  const auto [llm_flavour, tp] = GetParam();
  BlockConfig cfg{48, 6, 96, llm_flavour, llm_flavour, llm_flavour};
  const int64_t N = 11, C = cfg.width;
  const std::vector<int32_t> cu = {0, 5, 11};
  const std::vector<float> x = Random(N * C, 1), dout = Random(N * C, 2, 0.1f);

  ParamBuffer ref_pb;
  TransformerBlock ref;
  ref.Declare(ref_pb, "b.", cfg);
  ref_pb.Allocate();
  ref.Init(ref_pb, 7, 2);
  BlockCache ref_cache;
  std::vector<float> ref_out(size_t(N * C)), ref_dx(size_t(N * C), 0.0f);
  ref.Forward(ref_cache, ref_pb, ref_out.data(), x.data(), N, cu.data(), 2);
  ref.Backward(ref_cache, ref_pb, ref_dx.data(), dout.data(), x.data(), N, cu.data(), 2);

  TpRanks ranks(tp);
  std::vector<ParamBuffer> pbs(static_cast<size_t>(tp));
  std::vector<std::vector<float>> outs(static_cast<size_t>(tp)), dxs(static_cast<size_t>(tp));
  ranks.Run([&](int r) {
    BlockConfig c = cfg;
    c.tp = tp;
    c.tp_rank = r;
    TransformerBlock b;
    b.Declare(pbs[size_t(r)], "b.", c, ranks[r]);
    pbs[size_t(r)].Allocate();
    b.Init(pbs[size_t(r)], 7, 2);
    BlockCache cache;
    outs[size_t(r)].assign(size_t(N * C), 0.0f);
    dxs[size_t(r)].assign(size_t(N * C), 0.0f);
    b.Forward(cache, pbs[size_t(r)], outs[size_t(r)].data(), x.data(), N, cu.data(), 2);
    b.Backward(cache, pbs[size_t(r)], dxs[size_t(r)].data(), dout.data(), x.data(), N, cu.data(), 2);
  });
  for (int r = 0; r < tp; ++r) {
    const std::string who = ranks.Who(r);
    ASSERT_TRUE(ranks[r]->status().ok()) << ranks[r]->status().ToString();
    ExpectSlicesOf(ref_pb, pbs[size_t(r)], false, who);
    ExpectClose(outs[size_t(r)].data(), ref_out.data(), N * C, who + " out");
    ExpectClose(dxs[size_t(r)].data(), ref_dx.data(), N * C, who + " dinp");
    ExpectSlicesOf(ref_pb, pbs[size_t(r)], true, who);
  }
}

INSTANTIATE_TEST_SUITE_P(LlmAndVitFlavours, TpBlockTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(2, 3)));

// Two packed samples with image placeholders, generation slots and ignored targets.
LlmBatch TestBatch(const LlmConfig& cfg) {
  LlmBatch b;
  std::mt19937 g(3);
  for (int s = 0; s < 2; ++s) {
    std::vector<int32_t> tokens, targets;
    for (int i = 0; i < 9 + 4 * s; ++i) {
      int32_t t = int32_t(g() % 256);
      if (i >= 2 && i < 4) t = tok::kImg;
      if (i == 7) t = tok::kGen;
      tokens.push_back(t);
      targets.push_back(i % 5 == 4 ? -1 : int32_t(g() % uint32_t(cfg.vocab)));
    }
    b.Append(tokens, &targets);
  }
  return b;
}

class TpLlmTest : public ::testing::TestWithParam<int> {};

TEST_P(TpLlmTest, LossHiddenStatesAndGradientsMatchTheWholeModel) {
  const int tp = GetParam();
  const LlmConfig cfg = SmallLlm();
  const LlmBatch batch = TestBatch(cfg);
  const int64_t C = cfg.width, n_img = int64_t(batch.image_rows.size()), n_gen = int64_t(batch.gen_rows.size());
  ASSERT_EQ(n_img, 4);
  ASSERT_EQ(n_gen, 2);
  const std::vector<float> image_emb = Random(n_img * C, 4), dgen = Random(n_gen * C, 5, 0.1f);
  const float scale = 1.0f / 17.0f;

  Llm ref(cfg);
  ref.Init(11);
  Tensor ref_gen, ref_dimg;
  int64_t ref_count = 0;
  const double ref_loss = ref.Forward(batch, image_emb.data(), &ref_gen, &ref_count);
  ref.Backward(scale, dgen.data(), &ref_dimg);

  TpRanks tpr(tp);
  std::vector<std::unique_ptr<Llm>> ranks(static_cast<size_t>(tp));
  std::vector<double> loss(static_cast<size_t>(tp));
  std::vector<int64_t> count(static_cast<size_t>(tp));
  std::vector<Tensor> gen(static_cast<size_t>(tp)), dimg(static_cast<size_t>(tp));
  tpr.Run([&](int r) {
    auto m = std::make_unique<Llm>(cfg, tpr[r]);
    m->Init(11);
    loss[size_t(r)] = m->Forward(batch, image_emb.data(), &gen[size_t(r)], &count[size_t(r)]);
    m->Backward(scale, dgen.data(), &dimg[size_t(r)]);
    ranks[size_t(r)] = std::move(m);
  });
  for (int r = 0; r < tp; ++r) {
    const std::string who = tpr.Who(r);
    ASSERT_TRUE(tpr[r]->status().ok()) << tpr[r]->status().ToString();
    ExpectSlicesOf(ref.params(), ranks[size_t(r)]->params(), false, who);
    EXPECT_EQ(count[size_t(r)], ref_count) << who;
    EXPECT_NEAR(loss[size_t(r)], ref_loss, kTol * std::abs(ref_loss)) << who;
    ExpectClose(gen[size_t(r)].data(), ref_gen.data(), n_gen * C, who + " gen_hidden");
    ExpectClose(dimg[size_t(r)].data(), ref_dimg.data(), n_img * C, who + " dimage_emb");
    ExpectSlicesOf(ref.params(), ranks[size_t(r)]->params(), true, who);
  }
}

INSTANTIATE_TEST_SUITE_P(Degrees, TpLlmTest, ::testing::Values(2, 3));

class TpVitTest : public ::testing::TestWithParam<int> {};

TEST_P(TpVitTest, EmbeddingsAndGradientsMatchTheWholeEncoder) {
  const int tp = GetParam();
  EncoderConfig cfg;
  cfg.width = 48;
  cfg.heads = 6;
  cfg.layers = 2;
  cfg.mlp_ratio = 2;
  const int64_t llm_width = 40, n_img = 3, pixels = int64_t(cfg.image_size) * cfg.image_size;
  std::vector<float> images = Random(n_img * pixels, 6);
  for (float& p : images) p = 0.5f + 0.2f * p;

  VitEncoder ref(cfg, llm_width);
  ref.Init(13);
  Tensor ref_out;
  ref.Forward(images.data(), n_img, &ref_out);
  const std::vector<float> dout = Random(ref_out.numel(), 8, 0.1f);
  ref.Backward(dout.data());

  TpRanks tpr(tp);
  std::vector<std::unique_ptr<VitEncoder>> ranks(static_cast<size_t>(tp));
  std::vector<Tensor> out(static_cast<size_t>(tp));
  tpr.Run([&](int r) {
    auto m = std::make_unique<VitEncoder>(cfg, llm_width, tpr[r]);
    m->Init(13);
    m->Forward(images.data(), n_img, &out[size_t(r)]);
    m->Backward(dout.data());
    ranks[size_t(r)] = std::move(m);
  });
  for (int r = 0; r < tp; ++r) {
    const std::string who = tpr.Who(r);
    ASSERT_TRUE(tpr[r]->status().ok()) << tpr[r]->status().ToString();
    ExpectSlicesOf(ref.params(), ranks[size_t(r)]->params(), false, who);
    ExpectClose(out[size_t(r)].data(), ref_out.data(), ref_out.numel(), who + " embeddings");
    ExpectSlicesOf(ref.params(), ranks[size_t(r)]->params(), true, who);
  }
}

INSTANTIATE_TEST_SUITE_P(Degrees, TpVitTest, ::testing::Values(2, 3));

// A collective that fails: the error sticks in the TpContext, later
// collectives are skipped, and the model returns instead of hanging or crashing.
class FailingComm : public parallel::TpComm {
 public:
  int size() const override { return 2; }
  int rank() const override { return 0; }
  Status AllReduceSum(float*, int64_t) override {
    ++calls;
    return Status::Unavailable("peer tp rank 1 closed the connection");
  }
  int calls = 0;
};

TEST(TpContext, AFailedCollectiveSticksAndLaterOnesAreSkipped) {
  FailingComm comm;
  parallel::TpContext ctx(&comm);
  const LlmConfig cfg = SmallLlm();
  Llm m(cfg, &ctx);
  m.Init(1);
  const LlmBatch batch = TestBatch(cfg);
  const std::vector<float> image_emb = Random(int64_t(batch.image_rows.size()) * cfg.width, 4);
  Tensor gen;
  int64_t count = 0;
  (void)m.Forward(batch, image_emb.data(), &gen, &count);
  EXPECT_EQ(ctx.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(comm.calls, 1);
}

}  // namespace
}  // namespace braid::nn
