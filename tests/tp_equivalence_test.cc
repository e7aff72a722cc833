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

#include "common/base/threads.h"
#include "common/data/tokenizer.h"
#include "common/nn/llm.h"
#include "common/nn/transformer_block.h"
#include "common/nn/vit_encoder.h"
#include "common/parallel/local_tp_group.h"

namespace braid::nn {
namespace {

constexpr double kTol = 1e-4;

// The reference models compute on this thread, on one core too.
const bool kOneThread = [] {
  SetComputeThreads(1);
  return true;
}();

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
    for (int r = 0; r < group.size(); ++r)
      threads.emplace_back([&f, r] {
        SetComputeThreads(1);  // ranks are the parallelism here (and TSan cannot see into OpenMP)
        f(r);
      });
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
  ref.Forward(ref_cache, ref_pb, ref_out.data(), x.data(), N, cu.data(), 2, 6);
  ref.Backward(ref_cache, ref_pb, ref_dx.data(), dout.data(), x.data(), N, cu.data(), 2, 6);

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
    b.Forward(cache, pbs[size_t(r)], outs[size_t(r)].data(), x.data(), N, cu.data(), 2, 6);
    b.Backward(cache, pbs[size_t(r)], dxs[size_t(r)].data(), dout.data(), x.data(), N, cu.data(), 2, 6);
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
  double ref_loss = 0;
  ref.Forward(batch, image_emb.data(), &ref_gen, &ref_loss, &ref_count);
  ref.Backward(scale, dgen.data(), &ref_dimg);

  TpRanks tpr(tp);
  std::vector<std::unique_ptr<Llm>> ranks(static_cast<size_t>(tp));
  std::vector<double> loss(static_cast<size_t>(tp));
  std::vector<int64_t> count(static_cast<size_t>(tp));
  std::vector<Tensor> gen(static_cast<size_t>(tp)), dimg(static_cast<size_t>(tp));
  tpr.Run([&](int r) {
    auto m = std::make_unique<Llm>(cfg, tpr[r]);
    m->Init(11);
    loss[size_t(r)] = 0;
    m->Forward(batch, image_emb.data(), &gen[size_t(r)], &loss[size_t(r)], &count[size_t(r)]);
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

// Pipeline stages (issue 8): the LLM cut into stages (each optionally TP),
// run one stage after the other with the hidden states handed on, must
// equal the whole model; every stage's parameters and gradients are its
// share of the whole model's.
class PpLlmTest : public ::testing::TestWithParam<std::tuple<int, std::vector<int>>> {};

TEST_P(PpLlmTest, StagesChainedMatchTheWholeModel) {
  const auto& [tp, first_layers] = GetParam();  // first_layers: each stage's first layer, then the end
  LlmConfig cfg = SmallLlm();
  cfg.layers = first_layers.back();
  const LlmBatch batch = TestBatch(cfg);
  const int64_t C = cfg.width, N = batch.size();
  const int64_t n_img = int64_t(batch.image_rows.size()), n_gen = int64_t(batch.gen_rows.size());
  const std::vector<float> image_emb = Random(n_img * C, 4), dgen = Random(n_gen * C, 5, 0.1f);
  const float scale = 1.0f / 17.0f;

  Llm ref(cfg);
  ref.Init(11);
  Tensor ref_gen, ref_dimg;
  int64_t ref_count = 0;
  double ref_loss = 0;
  ref.Forward(batch, image_emb.data(), &ref_gen, &ref_loss, &ref_count);
  ref.Backward(scale, dgen.data(), &ref_dimg);

  const int stages = int(first_layers.size()) - 1;
  std::vector<std::unique_ptr<TpRanks>> groups;  // one TP group per stage
  std::vector<std::vector<std::unique_ptr<Llm>>> models(static_cast<size_t>(stages));
  for (int s = 0; s < stages; ++s) {
    groups.push_back(std::make_unique<TpRanks>(tp));
    for (int r = 0; r < tp; ++r) {
      auto m = std::make_unique<Llm>(cfg, tp > 1 ? (*groups.back())[r] : nullptr,
                                     LlmStage{first_layers[size_t(s)], first_layers[size_t(s) + 1]});
      EXPECT_EQ(m->first_stage(), s == 0);
      EXPECT_EQ(m->last_stage(), s == stages - 1);
      m->Init(11);
      models[size_t(s)].push_back(std::move(m));
    }
  }
  // Forward stage by stage: every TP rank of a stage gets TP rank 0's output of the one before.
  std::vector<Tensor> hidden(static_cast<size_t>(stages));
  std::vector<double> loss(static_cast<size_t>(tp));
  std::vector<int64_t> count(static_cast<size_t>(tp));
  std::vector<Tensor> gen(static_cast<size_t>(tp)), dimg(static_cast<size_t>(tp));
  for (int s = 0; s < stages; ++s) {
    std::vector<Tensor> out(static_cast<size_t>(tp));
    groups[size_t(s)]->Run([&](int r) {
      const float* in = s == 0 ? nullptr : hidden[size_t(s) - 1].data();
      loss[size_t(r)] = 0;
      models[size_t(s)][size_t(r)]->ForwardStage(batch, image_emb.data(), in, &out[size_t(r)], &gen[size_t(r)],
                                                 &loss[size_t(r)], &count[size_t(r)]);
    });
    if (s + 1 < stages) {
      ASSERT_EQ(out[0].numel(), N * C);
      hidden[size_t(s)] = out[0];
    }
  }
  // Backward the other way, handing on the input gradients.
  Tensor dhidden;
  for (int s = stages; s-- > 0;) {
    std::vector<Tensor> din(static_cast<size_t>(tp));
    groups[size_t(s)]->Run([&](int r) {
      models[size_t(s)][size_t(r)]->BackwardStage(scale, dgen.data(), s + 1 < stages ? dhidden.data() : nullptr,
                                                  &din[size_t(r)], &dimg[size_t(r)]);
    });
    if (s > 0) dhidden = din[0];
  }
  for (int r = 0; r < tp; ++r) {
    EXPECT_EQ(count[size_t(r)], ref_count);
    EXPECT_NEAR(loss[size_t(r)], ref_loss, kTol * std::abs(ref_loss));
    ExpectClose(gen[size_t(r)].data(), ref_gen.data(), n_gen * C, "gen_hidden");
    ExpectClose(dimg[size_t(r)].data(), ref_dimg.data(), n_img * C, "dimage_emb");
  }
  // Each stage's views are the whole model's views of its layers, in order.
  for (int s = 0; s < stages; ++s)
    for (int r = 0; r < tp; ++r) {
      const ParamBuffer& pb = models[size_t(s)][size_t(r)]->params();
      const std::string who = "stage " + std::to_string(s) + " tp rank " + std::to_string(r);
      for (const ParamView& v : pb.views()) {
        const int i = ref.params().Find(v.name);
        ASSERT_GE(i, 0) << who << " has " << v.name << ", the whole model does not";
        const ParamView& rv = ref.params().view(i);
        std::vector<float> want(static_cast<size_t>(v.numel));
        parallel::ExtractShard(ref.params().params().data() + rv.offset, rv.shape, v.shard, want.data());
        EXPECT_TRUE(std::equal(want.begin(), want.end(), pb.params().data() + v.offset)) << who << " " << v.name;
        parallel::ExtractShard(ref.params().grads().data() + rv.offset, rv.shape, v.shard, want.data());
        ExpectClose(pb.grads().data() + v.offset, want.data(), v.numel, who + " grad " + v.name);
      }
    }
  size_t views = 0;
  for (int s = 0; s < stages; ++s) views += models[size_t(s)][0]->params().views().size();
  EXPECT_EQ(views, ref.params().views().size());  // the stages hold every tensor once
}

INSTANTIATE_TEST_SUITE_P(
    Splits, PpLlmTest,
    ::testing::Values(std::tuple{1, std::vector<int>{0, 1, 2}}, std::tuple{1, std::vector<int>{0, 2, 3}},
                      std::tuple{1, std::vector<int>{0, 1, 2, 3}}, std::tuple{2, std::vector<int>{0, 1, 2}},
                      std::tuple{3, std::vector<int>{0, 2, 3}}));

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
  double loss = 0;
  m.Forward(batch, image_emb.data(), &gen, &loss, &count);
  EXPECT_EQ(ctx.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(comm.calls, 1);
}

}  // namespace
}  // namespace braid::nn

#include "common/checkpoint/checkpoint.h"
#include "tests/temp_dir.h"

namespace braid::nn {
namespace {

// A checkpoint of the whole model loads into any TP slice of any pipeline
// stage (ModuleState::subset), and a sliced buffer cannot be saved directly.
TEST(ShardedCheckpoint, WholeCheckpointLoadsIntoStagesAndSlices) {
  testing_util::ScopedTempDir dir("braid_sharded_ckpt_");
  LlmConfig cfg = SmallLlm();
  cfg.layers = 3;
  Llm whole(cfg);
  whole.Init(21);
  ASSERT_TRUE(SaveCheckpoint(dir.path(), 5, {{"llm", &whole.params(), nullptr}}, nlohmann::json::object(), 3).ok());
  const std::string step = dir.path() + "/step-5";

  TpRanks ranks(2);
  Llm stage(cfg, ranks[1], LlmStage{2, 3});  // TP rank 1 of the last stage
  ModuleState m{"llm", &stage.params(), nullptr};
  const StatusOr<nlohmann::json> refused = LoadCheckpoint(step, {m});
  ASSERT_FALSE(refused.ok());  // without `subset`, the other stages' tensors are unexpected
  EXPECT_NE(refused.status().message().find("unexpected tensor"), std::string::npos) << refused.status().message();
  m.subset = true;
  const StatusOr<nlohmann::json> loaded = LoadCheckpoint(step, {m});
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  for (const ParamView& v : stage.params().views()) {
    const ParamView& w = whole.params().view(whole.params().Find(v.name));
    std::vector<float> want(static_cast<size_t>(v.numel));
    parallel::ExtractShard(whole.params().params().data() + w.offset, w.shape, v.shard, want.data());
    EXPECT_TRUE(std::equal(want.begin(), want.end(), stage.params().params().data() + v.offset)) << v.name;
  }
  const Status save = SaveCheckpoint(dir.path(), 6, {m}, nlohmann::json::object(), 3);
  EXPECT_EQ(save.code(), StatusCode::kFailedPrecondition) << save.ToString();
}

}  // namespace
}  // namespace braid::nn
