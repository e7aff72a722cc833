// The step model and the planner (common/plan/step_model.h, planner.h):
// hand-checked stage costs, every plan valid (budget, divisibility, memory),
// never slower than the baseline it reports, the runtime's restrictions.
#include "common/plan/planner.h"

#include <gtest/gtest.h>

#include <numeric>

#include "common/reorder/workload.h"

namespace braid::plan {
namespace {

TransformerSpec Tf(int64_t width, int64_t layers, int64_t heads, bool gated, int64_t tokens = 0, int64_t vocab = 0) {
  TransformerSpec t;
  t.width = width, t.layers = layers, t.heads = heads, t.mlp_hidden = 4 * width;
  t.gated_mlp = t.causal = gated;
  t.vocab = vocab;
  t.tokens_per_unit = tokens;
  return t;
}

ClusterSpec Gpus(int nodes, int per_node, int64_t devices) {
  ClusterSpec c;
  c.name = "test";
  c.nodes = nodes, c.devices_per_node = per_node, c.devices = devices;
  c.peak_flops = 1e15, c.memory_bytes = 80.0 * (1ll << 30), c.memory_bandwidth = 3e12;
  c.intra_node_bandwidth = 4e11, c.intra_node_latency = 3e-6;
  c.inter_node_bandwidth = 5e10, c.inter_node_latency = 1e-5;
  c.compute_efficiency = 0.6, c.comm_efficiency = 0.8;
  return c;
}

// A 1B-class LLM with a small ViT and DiT: quick to plan.
PlanContext Context(const ClusterSpec& c, const std::string& workload, int64_t samples) {
  PlanContext ctx;
  ctx.model.module[kEncoder] = Tf(768, 12, 12, false, 256);
  ctx.model.module[kLlm] = Tf(2048, 16, 16, true, 0, 32000);
  ctx.model.module[kGenerator] = Tf(768, 12, 12, false, 256 + 16);
  ctx.model.gen_slots = 16;
  ctx.cluster = c;
  ctx.batch = *reorder::SynthesizeWorkload(workload, samples, 3);
  for (auto& s : ctx.batch) s.image_tokens = 256;
  ctx.unit_seconds = FlopSecondsPerUnit(ctx.model, c);
  ctx.microbatch_choices = {4, 8, 16};
  return ctx;
}

void ExpectValid(const PlanContext& ctx, const Candidate& c, const Prediction& p) {
  if (!ctx.cluster.shared_compute) {
    EXPECT_LE(c.Devices(), ctx.cluster.devices);
  }
  for (int m = 0; m < kModules; ++m) {
    Layout l = c.layout[m];
    if (c.colocated && m != kLlm) l.pp = 1;
    EXPECT_TRUE(CheckLayout(ctx.model.module[m], m, l).ok()) << ModuleName(m);
    EXPECT_LE(p.memory_bytes[m], ctx.memory_headroom * ctx.cluster.memory_bytes) << ModuleName(m);
  }
  EXPECT_EQ(std::accumulate(c.llm_stage_layers.begin(), c.llm_stage_layers.end(), int64_t(0)),
            ctx.model.module[kLlm].layers);
  EXPECT_EQ(int64_t(ctx.batch.size()) % c.microbatches, 0);
  EXPECT_GT(p.step_seconds, 0);
  EXPECT_GT(p.mfu, 0);
  EXPECT_LE(p.mfu, ctx.cluster.compute_efficiency + 1e-9);  // never above what a device achieves
}

TEST(PlanStepModel, OneMicrobatchOneRankMatchesHandComputedCosts) {
  ClusterSpec c = Gpus(1, 8, 8);
  PlanContext ctx = Context(c, "llava", 4);
  ctx.batch = {{0, 2, 256, 100, 1}, {1, 0, 256, 50, 0}};  // 2 images + 1 target, then text only
  Candidate cand;
  cand.microbatches = 1;
  cand.llm_stage_layers = {16};
  StatusOr<StepModel> s = BuildStep(ctx, cand);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->sim.stages.size(), 3u);
  const double e = 2 * ctx.unit_seconds.EncoderImage(256);
  const double l = ctx.unit_seconds.LlmSample(100 + 512) + ctx.unit_seconds.LlmSample(50);
  const double g = ctx.unit_seconds.GeneratorTarget();
  EXPECT_DOUBLE_EQ(s->sim.stages[0].fwd[0], e);
  EXPECT_DOUBLE_EQ(s->sim.stages[1].fwd[0], l);
  EXPECT_DOUBLE_EQ(s->sim.stages[2].fwd[0], g);
  EXPECT_DOUBLE_EQ(s->sim.stages[1].bwd[0], 2 * l);
  EXPECT_TRUE(s->sim.stages[2].fused);
  EXPECT_EQ(s->sim.stages[0].warmup, 2);
  // Image embeddings cross at the LLM's width in bf16: 512 tokens x 2048 x 2 B.
  const double bw = c.intra_node_bandwidth * c.comm_efficiency;
  EXPECT_NEAR(s->sim.stages[0].send_fwd[0], 512.0 * 2048 * 2 / bw + c.intra_node_latency, 1e-12);
  // No DP: no all-reduce. MFU numerator: 3 x forward FLOPs of the batch.
  EXPECT_EQ(s->sim.stages[1].allreduce, 0);
  const double flops = 3 * (2 * UnitForwardFlops(ctx.model.module[kEncoder], 256) +
                            UnitForwardFlops(ctx.model.module[kLlm], 612) +
                            UnitForwardFlops(ctx.model.module[kLlm], 50) +
                            UnitForwardFlops(ctx.model.module[kGenerator], 272));
  EXPECT_NEAR(s->model_flops, flops, 1e-6 * flops);
}

TEST(PlanStepModel, TensorAndPipelineSplitTheLlmStage) {
  const ClusterSpec c = Gpus(1, 8, 8);
  PlanContext ctx = Context(c, "llava", 8);
  Candidate one, split;
  one.microbatches = split.microbatches = 1;
  one.llm_stage_layers = {16};
  split.layout[kLlm] = {2, 2, 1};
  split.llm_stage_layers = {10, 6};
  StatusOr<StepModel> a = BuildStep(ctx, one), b = BuildStep(ctx, split);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(b->sim.stages.size(), 4u);
  // Stage 0 of the LLM: its 10 layers' share of the work over 2 ranks, plus
  // 10 layers of TP all-reduces over every token of the (only) microbatch;
  // stage 1 its 6 layers' share and the output head's.
  double tokens = 0;
  for (const auto& x : ctx.batch) tokens += double(x.llm_tokens());
  const TransformerSpec& llm = ctx.model.module[kLlm];
  const double mean = tokens / double(ctx.batch.size());
  const double first = LlmStageShare(llm, mean, 10, false), last = LlmStageShare(llm, mean, 6, true);
  EXPECT_NEAR(first + last, 1.0, 1e-12);
  EXPECT_GT(last, 6.0 / 16.0);  // the head runs on the last stage
  const double comm = 10 * TpLayerCommSeconds(llm, tokens, 2, GroupLink(c, 1, 2));
  EXPECT_GT(comm, 0);
  EXPECT_NEAR(b->sim.stages[1].fwd[0], a->sim.stages[1].fwd[0] * first / 2.0 + comm, 1e-12);
  EXPECT_NEAR(b->sim.stages[2].fwd[0],
              a->sim.stages[1].fwd[0] * last / 2.0 + 6 * TpLayerCommSeconds(llm, tokens, 2, GroupLink(c, 1, 2)),
              1e-12);
  EXPECT_EQ(b->sim.stages[1].warmup, 2);
  // Hidden states to the next PP stage: every token at width 2048 in bf16.
  const Link pp = GroupLink(c, 2, 2);
  EXPECT_NEAR(b->sim.stages[1].send_fwd[0], tokens * 2048 * 2 / pp.bandwidth + pp.latency, 1e-12);
}

// The last LLM stage also runs the output head: with a large vocabulary, a
// split that gives it fewer layers is simulated faster than the even one.
TEST(PlanStepModel, AnUnevenSplitOffloadsTheHeadStage) {
  PlanContext ctx = Context(Gpus(1, 8, 8), "llava", 16);
  ctx.model.module[kLlm].vocab = 256000;  // a head of ~4 layers' FLOPs at width 2048
  Candidate even, uneven;
  for (Candidate* c : {&even, &uneven}) {
    c->microbatches = 8;
    c->layout[kLlm] = {1, 2, 1};
  }
  even.llm_stage_layers = {8, 8};
  uneven.llm_stage_layers = {10, 6};
  StatusOr<Prediction> e = Predict(ctx, even), u = Predict(ctx, uneven);
  ASSERT_TRUE(e.ok() && u.ok()) << e.status().ToString() << u.status().ToString();
  EXPECT_LT(u->step_seconds, e->step_seconds);
}

TEST(PlanStepModel, BadCandidatesAreInvalidArgument) {
  PlanContext ctx = Context(Gpus(1, 8, 8), "llava", 8);
  Candidate c;
  c.llm_stage_layers = {16};
  c.microbatches = 3;
  EXPECT_EQ(BuildStep(ctx, c).status().code(), StatusCode::kInvalidArgument);
  c.microbatches = 2;
  c.layout[kLlm].tp = 3;  // 16 heads
  EXPECT_NE(BuildStep(ctx, c).status().message().find("tp 3"), std::string::npos);
  c.layout[kLlm] = {1, 2, 1};
  c.llm_stage_layers = {8, 7};
  EXPECT_NE(BuildStep(ctx, c).status().message().find("sum"), std::string::npos);
  c.layout[kLlm] = {1, 1, 5};  // 4 samples per microbatch
  c.llm_stage_layers = {16};
  EXPECT_NE(BuildStep(ctx, c).status().message().find("samples per microbatch"), std::string::npos);
}

TEST(PlanStepModel, BaselineRunsEveryModuleOnTheLlmStages) {
  PlanContext ctx = Context(Gpus(1, 8, 8), "llava", 8);
  Candidate b;
  b.colocated = true;
  b.microbatches = 1;
  b.llm_stage_layers = {16};
  StatusOr<StepModel> s = BuildStep(ctx, b);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->sim.stages.size(), 1u);
  double want = 0;
  for (const auto& x : ctx.batch)
    want += x.images * ctx.unit_seconds.EncoderImage(256) + ctx.unit_seconds.LlmSample(x.llm_tokens()) +
            x.gen_images * ctx.unit_seconds.GeneratorTarget();
  EXPECT_NEAR(s->sim.stages[0].fwd[0], want, 1e-12 * want);
}

TEST(Planner, PlansAreValidAndNeverSlowerThanTheBaseline) {
  for (int64_t budget : {8, 24, 64, 200}) {
    for (const char* w : {"mixed", "obelics", "laion"}) {
      PlanContext ctx = Context(Gpus(int((budget + 7) / 8), 8, budget), w, 256);
      StatusOr<PlanResult> r = PlanLayouts(ctx);
      ASSERT_TRUE(r.ok()) << budget << " " << w << ": " << r.status().ToString();
      SCOPED_TRACE(std::to_string(budget) + " devices, " + w);
      ExpectValid(ctx, r->plan, r->predicted);
      ExpectValid(ctx, r->baseline, r->baseline_predicted);
      EXPECT_TRUE(r->baseline.colocated);
      EXPECT_GE(r->speedup, 1.0);
      EXPECT_LE(r->predicted.step_seconds, r->baseline_predicted.step_seconds);
      // The prediction is reproducible from the plan alone.
      StatusOr<Prediction> again = Predict(ctx, r->plan);
      ASSERT_TRUE(again.ok());
      EXPECT_DOUBLE_EQ(again->step_seconds, r->predicted.step_seconds);
      EXPECT_GT(r->simulated, 0);
    }
  }
}

TEST(Planner, RuntimeOnlyKeepsToWhatTheRuntimeRunsAndTheWorkerLimits) {
  for (int workers : {1, 2, 4}) {
    ClusterSpec c = Gpus(1, 4, 4);
    c.shared_compute = true;
    PlanContext ctx = Context(c, "mixed", 32);
    ctx.runtime_only = true;
    ctx.max_ranks[kEncoder] = workers, ctx.max_ranks[kLlm] = workers, ctx.max_ranks[kGenerator] = workers;
    StatusOr<PlanResult> r = PlanLayouts(ctx);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->plan.colocated);
    for (int m = 0; m < kModules; ++m) {
      const Layout& l = r->plan.layout[m];
      EXPECT_LE(l.dp * l.tp * l.pp, workers) << ModuleName(m);  // one worker per rank
      if (m != kLlm) {
        EXPECT_EQ(l.pp, 1) << ModuleName(m);
      }
    }
    EXPECT_EQ(r->plan.layout[kGenerator].tp, 1);
  }
}

TEST(Planner, NothingFitsIsFailedPreconditionSayingHowMuchIsNeeded) {
  PlanContext ctx = Context(Gpus(1, 8, 8), "mixed", 64);
  ctx.cluster.memory_bytes = 1e6;  // 1 MB devices
  StatusOr<PlanResult> r = PlanLayouts(ctx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("no layout fits"), std::string::npos) << r.status().message();
}

TEST(Planner, DefaultMicrobatchChoicesAreDivisorsUpTo64) {
  EXPECT_EQ(DefaultMicrobatchChoices(12), (std::vector<int>{1, 2, 3, 4, 6, 12}));
  EXPECT_EQ(DefaultMicrobatchChoices(128).back(), 64);
}

}  // namespace
}  // namespace braid::plan
