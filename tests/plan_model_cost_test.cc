// The planner's cost model (common/plan/model_cost.h) against values worked
// out by hand in the comments, and against published parameter counts of
// Llama-2-7B and ViT-H/14.
#include "common/plan/model_cost.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "common/config/job_config.h"
#include "common/reorder/cost_model.h"

namespace braid::plan {
namespace {

// Llama-2-7B: C 4096, L 32, 32 heads, SwiGLU H 11008, V 32000, causal.
TransformerSpec Llama7B() {
  TransformerSpec m;
  m.width = 4096;
  m.layers = 32;
  m.heads = 32;
  m.mlp_hidden = 11008;
  m.gated_mlp = true;
  m.causal = true;
  m.vocab = 32000;
  return m;
}

// ViT without the classifier: C wide, L layers, mlp 4C, patch^2 x 3 inputs, 256 tokens (224 / patch = 16).
TransformerSpec Vit(int64_t width, int64_t layers, int64_t heads, int64_t patch) {
  TransformerSpec m;
  m.width = width;
  m.layers = layers;
  m.heads = heads;
  m.mlp_hidden = 4 * width;
  m.input_dim = patch * patch * 3;
  m.tokens_per_unit = 256;
  return m;
}

// A small non-gated module for hand arithmetic: C 64, H 256, 4 layers, 16 inputs.
TransformerSpec Small() {
  TransformerSpec m;
  m.width = 64;
  m.layers = 4;
  m.heads = 4;
  m.mlp_hidden = 256;
  m.input_dim = 16;
  return m;
}

// ---- FLOPs ----

TEST(ModelCostFlops, LlamaBlockCausalGated) {
  // C = 4096, H = 11008, T = 2048:
  //   4C^2 = 67,108,864;  3CH = 3 x 4096 x 11008 = 135,266,304;  sum 202,375,168
  //   T x 2 x sum = 4096 x 202,375,168 = 828,928,688,128
  //   attention 4 C T^2 / 2 = 2 x 4096 x 4,194,304 = 34,359,738,368
  //   total 863,288,426,496
  EXPECT_DOUBLE_EQ(LayerForwardFlops(Llama7B(), 2048), 863288426496.0);
}

TEST(ModelCostFlops, VitLargeBlock) {
  // ViT-L: C = 1024, H = 4096 (two matrices), T = 256, bidirectional:
  //   4C^2 = 4,194,304;  2CH = 8,388,608;  sum 12,582,912
  //   T x 2 x sum = 512 x 12,582,912 = 6,442,450,944
  //   attention 4 C T^2 = 4 x 1024 x 65,536 = 268,435,456
  //   total 6,710,886,400
  EXPECT_DOUBLE_EQ(LayerForwardFlops(Vit(1024, 24, 16, 14), 256), 6710886400.0);
}

TEST(ModelCostFlops, Edges) {
  // Llama head: T x 2 x C x V = 2048 x 2 x 4096 x 32000 = 536,870,912,000.
  EXPECT_DOUBLE_EQ(EdgeForwardFlops(Llama7B(), 2048), 536870912000.0);
  // ViT-H/14 patch embedding: 256 x 2 x 1280 x 588 = 385,351,680.
  EXPECT_DOUBLE_EQ(EdgeForwardFlops(Vit(1280, 32, 16, 14), 256), 385351680.0);
  // Neither a vocabulary nor an input projection: nothing.
  TransformerSpec bare = Small();
  bare.input_dim = 0;
  EXPECT_DOUBLE_EQ(EdgeForwardFlops(bare, 100), 0.0);
}

TEST(ModelCostFlops, UnitIsLayersPlusEdgesTimesPasses) {
  // Llama, T = 2048: 32 x 863,288,426,496 + 536,870,912,000 = 28,162,100,559,872.
  EXPECT_DOUBLE_EQ(UnitForwardFlops(Llama7B(), 2048), 28162100559872.0);
  TransformerSpec m = Small();
  m.passes_per_unit = 3;
  EXPECT_DOUBLE_EQ(UnitForwardFlops(m, 10), 3 * (4 * LayerForwardFlops(m, 10) + EdgeForwardFlops(m, 10)));
}

TEST(ModelCostFlops, CloseToTwoNTForward) {
  // Narayanan et al. 2021: training ~ 6 N T (forward 2 N T) plus the attention
  // term. For Llama-7B at T = 2048 the attention (+4%) outweighs the token
  // embedding lookup (not a matmul, -2%): forward / (2 N T) = 1.020.
  const TransformerSpec m = Llama7B();
  const double ratio = UnitForwardFlops(m, 2048) / (2.0 * double(TotalParams(m)) * 2048);
  EXPECT_GT(ratio, 1.0);
  EXPECT_LT(ratio, 1.05);
}

TEST(ModelCostFlops, MatchesReorderCostModel) {
  // The reorderer's older FLOP model (common/reorder/cost_model.h) counts the
  // layer stack the same way; only the edges are new here.
  reorder::ModelShapes shapes;
  shapes.encoder = {1024, 24, 4096, false};
  shapes.llm = {4096, 32, 11008, true};
  const reorder::CostModel cost = reorder::FlopCostModel(shapes);
  const TransformerSpec llm = Llama7B(), vit = Vit(1024, 24, 16, 14);
  for (int64_t t : {1, 100, 2048}) {
    EXPECT_DOUBLE_EQ(cost.LlmSample(t), 32 * LayerForwardFlops(llm, double(t))) << t;
    EXPECT_DOUBLE_EQ(cost.EncoderImage(t), 24 * LayerForwardFlops(vit, double(t))) << t;
  }
}

// ---- Parameters ----

TEST(ModelCostParams, LayerAndEdgeByHand) {
  // Llama layer: 4C^2 + 3CH + 2C = 67,108,864 + 135,266,304 + 8,192 = 202,383,360.
  EXPECT_EQ(LayerParams(Llama7B()), 202383360);
  // Llama edges: 2 V C + C = 262,144,000 + 4,096 = 262,148,096.
  EXPECT_EQ(EdgeParams(Llama7B()), 262148096);
  // ViT-L layer: 4C^2 + 2CH + 9C + H = 4,194,304 + 8,388,608 + 9,216 + 4,096 = 12,596,224
  // (timm's ViT-L/16 block, exactly).
  EXPECT_EQ(LayerParams(Vit(1024, 24, 16, 16)), 12596224);
  // Small: 4 x 4096 + 2 x 64 x 256 + 9 x 64 + 256 = 16,384 + 32,768 + 576 + 256 = 49,984;
  // edges 16 x 64 + 64 = 1,088.
  EXPECT_EQ(LayerParams(Small()), 49984);
  EXPECT_EQ(EdgeParams(Small()), 1088);
}

TEST(ModelCostParams, Llama2SevenB) {
  // 32 x 202,383,360 + 262,148,096 = 6,738,415,616: Llama-2-7B's published
  // count to the parameter (RMSNorm scales, no biases, untied head).
  const int64_t n = TotalParams(Llama7B());
  EXPECT_EQ(n, 6738415616);
  EXPECT_NEAR(double(n), 6.74e9, 0.01 * 6.74e9);
}

TEST(ModelCostParams, VitHuge14) {
  // Layer: 4 x 1280^2 + 2 x 1280 x 5120 + 9 x 1280 + 5120 = 6,553,600 + 13,107,200
  // + 11,520 + 5,120 = 19,677,440; x 32 = 629,678,080; patch embedding
  // 588 x 1280 + 1280 = 753,920; total 630,432,000.
  const int64_t n = TotalParams(Vit(1280, 32, 16, 14));
  EXPECT_EQ(n, 630432000);
  // The usual "632M" (632,045,800) also counts the position embeddings (257 x
  // 1280), the class token, the final LayerNorm and the 1000-class head
  // (1,281,000): 1.6M (0.26%) the planner leaves out as negligible. 0.5%
  // tolerance: room for those, tight enough to catch any missing per-layer term
  // (the smallest, 9C + H, is 2.6% of the total over 32 layers).
  EXPECT_NEAR(double(n), 632e6, 0.005 * 632e6);
}

// ---- Layouts ----

// width 384, heads 6, mlp 1152, 12 layers: divisible by 3 and 6, not by 4.
TransformerSpec Odd() {
  TransformerSpec m;
  m.width = 384;
  m.layers = 12;
  m.heads = 6;
  m.mlp_hidden = 1152;
  return m;
}

void ExpectInvalid(const Status& s, const std::string& message) {
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_EQ(s.message(), message);
}

TEST(ModelCostLayout, AcceptsNonPowerOfTwoDivisors) {
  for (int tp : {1, 2, 3, 6}) EXPECT_TRUE(CheckLayout(Odd(), kLlm, {tp, 1, 5}).ok()) << tp;
  EXPECT_TRUE(CheckLayout(Odd(), kLlm, {3, 12, 7}).ok());
  EXPECT_TRUE(CheckLayout(Odd(), kEncoder, {3, 1, 3}).ok());
  EXPECT_TRUE(CheckLayout(Odd(), kGenerator, {6, 1, 1}).ok());
}

TEST(ModelCostLayout, RejectsWhatDoesNotDivide) {
  ExpectInvalid(CheckLayout(Odd(), kLlm, {4, 1, 1}), "llm: tp 4 does not divide heads 6");
  TransformerSpec m = Odd();
  m.heads = 64;
  ExpectInvalid(CheckLayout(m, kLlm, {3, 1, 1}), "llm: tp 3 does not divide heads 64");
  m = Odd();
  m.width = 100;
  ExpectInvalid(CheckLayout(m, kEncoder, {3, 1, 1}), "encoder: tp 3 does not divide width 100");
  m = Odd();
  m.mlp_hidden = 1000;
  ExpectInvalid(CheckLayout(m, kGenerator, {3, 1, 1}), "generator: tp 3 does not divide mlp_hidden 1000");
}

TEST(ModelCostLayout, RejectsBadDegreesAndPipelines) {
  ExpectInvalid(CheckLayout(Odd(), kLlm, {0, 1, 1}), "llm: tp 0 must be >= 1");
  ExpectInvalid(CheckLayout(Odd(), kLlm, {1, 1, 0}), "llm: dp 0 must be >= 1");
  ExpectInvalid(CheckLayout(Odd(), kLlm, {1, 13, 1}), "llm: pp 13 exceeds layers 12");
  ExpectInvalid(CheckLayout(Odd(), kEncoder, {1, 2, 1}), "encoder: pp 2 is not supported (only the llm is pipelined)");
  ExpectInvalid(CheckLayout(Odd(), kGenerator, {1, 2, 1}),
                "generator: pp 2 is not supported (only the llm is pipelined)");
}

TEST(ModelCostLayout, SplitLayers) {
  EXPECT_EQ(SplitLayers(10, 4), (std::vector<int64_t>{3, 3, 2, 2}));
  EXPECT_EQ(SplitLayers(32, 4), (std::vector<int64_t>{8, 8, 8, 8}));
  EXPECT_EQ(SplitLayers(32, 3), (std::vector<int64_t>{11, 11, 10}));
  EXPECT_EQ(SplitLayers(7, 1), (std::vector<int64_t>{7}));
  EXPECT_EQ(SplitLayers(5, 5), (std::vector<int64_t>{1, 1, 1, 1, 1}));
}

TEST(ModelCostLayoutDeathTest, SplitLayersPreconditions) {
  EXPECT_DEATH((void)SplitLayers(3, 4), "check failed");
  EXPECT_DEATH((void)SplitLayers(3, 0), "check failed");
}

// ---- Memory ----

TEST(ModelCostMemory, HandComputedStage) {
  // Small (LayerParams 49,984, EdgeParams 1,088), 2 layers plus edges, tp 2,
  // dp 4, 3 microbatches of 100 tokens alive:
  //   P = (2 x 49,984 + 1,088) / 2 = 50,528
  //   weights + grads 6P = 303,168
  //   optimizer 12P / 4 = 151,584 (distributed), 12P = 606,336 (not)
  //   activations 100 x 3 x 2 x 34 x 64 / 2 = 600 x 1,088 = 652,800
  //   recompute: 600 x 2 x 64 / 2 = 38,400 kept + 100 x 1,088 = 108,800 for the layer recomputed = 147,200
  const TransformerSpec m = Small();
  MemoryOptions opt;
  EXPECT_DOUBLE_EQ(StageMemoryBytes(m, 2, true, 2, 4, 100, 3, opt), 303168.0 + 151584 + 652800);
  opt.distributed_optimizer = false;
  EXPECT_DOUBLE_EQ(StageMemoryBytes(m, 2, true, 2, 4, 100, 3, opt), 303168.0 + 606336 + 652800);
  opt.recompute = true;
  EXPECT_DOUBLE_EQ(StageMemoryBytes(m, 2, true, 2, 4, 100, 3, opt), 303168.0 + 606336 + 147200);
  opt.distributed_optimizer = true;
  EXPECT_DOUBLE_EQ(StageMemoryBytes(m, 2, true, 2, 4, 100, 3, opt), 303168.0 + 151584 + 147200);
}

TEST(ModelCostMemory, EdgesOnlyWhereHeld) {
  // Without edges: P = 49,984; 6P = 299,904; 12P / 4 = 149,952; activations as above.
  EXPECT_DOUBLE_EQ(StageMemoryBytes(Small(), 2, false, 2, 4, 100, 3, {}), 299904.0 + 149952 + 652800);
}

// ---- Communication ----

// 4 nodes x 8 devices; 400 / 50 GB/s, 3 / 10 us; 80% efficiency.
ClusterSpec FourNodes() {
  ClusterSpec c;
  c.nodes = 4;
  c.devices_per_node = 8;
  c.devices = 32;
  c.intra_node_bandwidth = 400e9;
  c.intra_node_latency = 3e-6;
  c.inter_node_bandwidth = 50e9;
  c.inter_node_latency = 10e-6;
  c.comm_efficiency = 0.8;
  return c;
}

void ExpectIntra(const Link& l) {
  EXPECT_DOUBLE_EQ(l.bandwidth, 320e9);
  EXPECT_DOUBLE_EQ(l.latency, 3e-6);
}
void ExpectInter(const Link& l) {
  EXPECT_DOUBLE_EQ(l.bandwidth, 40e9);
  EXPECT_DOUBLE_EQ(l.latency, 10e-6);
}

TEST(ModelCostLink, IntraWhenGroupsStayInANode) {
  const ClusterSpec c = FourNodes();
  ExpectIntra(GroupLink(c, 1, 8));  // TP 8
  ExpectIntra(GroupLink(c, 1, 4));  // TP 4
  ExpectIntra(GroupLink(c, 2, 4));  // PP 4 over TP 2
  ExpectIntra(GroupLink(c, 1, 1));  // a single device
}

TEST(ModelCostLink, InterWhenGroupsCrossNodes) {
  const ClusterSpec c = FourNodes();
  ExpectInter(GroupLink(c, 1, 16));  // TP 16 is wider than a node
  ExpectInter(GroupLink(c, 8, 4));   // DP 4 over 8-device replicas
  ExpectInter(GroupLink(c, 4, 4));   // 16-device blocks
  // TP 3: blocks {0,1,2} {3,4,5} {6,7,8}: the third straddles nodes 0 and 1.
  ExpectInter(GroupLink(c, 1, 3));
  // PP 2 over TP 3: block {6..11} holds the group {7, 10}, across the boundary.
  ExpectInter(GroupLink(c, 3, 2));
}

TEST(ModelCostLink, OneNodeIsAlwaysIntra) {
  ClusterSpec c = FourNodes();
  c.nodes = 1;
  c.devices_per_node = 6;
  c.devices = 6;
  ExpectIntra(GroupLink(c, 1, 4));  // 4 does not divide 6, but there is no other node
  // A budget of one node's devices on a larger cluster stays in one node too.
  c = FourNodes();
  c.devices = 8;
  ExpectIntra(GroupLink(c, 1, 3));
}

TEST(ModelCostComm, AllReduce) {
  const Link l{100e9, 1e-5};
  // n 4, 1 GB: 2 x 3/4 x 1e9 / 1e11 = 0.015 s + 2 x 3 x 1e-5 = 6e-5 s -> 0.01506 s.
  EXPECT_NEAR(AllReduceSeconds(1e9, 4, l), 0.01506, 1e-15);
  // n 2: 2 x 1/2 x 1e9 / 1e11 = 0.01 + 2e-5 -> 0.01002 s.
  EXPECT_NEAR(AllReduceSeconds(1e9, 2, l), 0.01002, 1e-15);
  // Nothing to reduce with one device (no bandwidth needed).
  EXPECT_EQ(AllReduceSeconds(1e9, 1, Link{}), 0.0);
  EXPECT_EQ(AllReduceSeconds(1e9, 0, Link{}), 0.0);
}

TEST(ModelCostComm, Send) {
  // 1 MB at 1 GB/s + 10 us = 0.00101 s.
  EXPECT_NEAR(SendSeconds(1e6, {1e9, 1e-5}), 0.00101, 1e-15);
  EXPECT_EQ(SendSeconds(0, Link{}), 0.0);
}

TEST(ModelCostComm, TpLayer) {
  // Llama, T 2048, TP 8 in a node (320 GB/s after efficiency, 3 us):
  //   bytes 2048 x 4096 x 2 = 16,777,216
  //   one all-reduce 2 x 7/8 x 16,777,216 / 320e9 = 9.17504e-5 s + 14 x 3e-6 = 4.2e-5 s -> 1.337504e-4 s
  //   two per layer: 2.675008e-4 s
  const Link l = GroupLink(FourNodes(), 1, 8);
  EXPECT_NEAR(TpLayerCommSeconds(Llama7B(), 2048, 8, l), 2.675008e-4, 1e-15);
  EXPECT_EQ(TpLayerCommSeconds(Llama7B(), 2048, 1, l), 0.0);
}

// ---- The job's model ----

TEST(ModelCostConfig, DefaultDemoModel) {
  const ModelSpec s = ModelSpecFromConfig(ModelConfig{});
  // Encoder: 28 / 7 = 4 -> 16 tokens; input 7 x 7 x 1 = 49; mlp 4 x 64 = 256.
  const TransformerSpec& e = s.module[kEncoder];
  EXPECT_EQ(e.width, 64);
  EXPECT_EQ(e.layers, 2);
  EXPECT_EQ(e.heads, 4);
  EXPECT_EQ(e.mlp_hidden, 256);
  EXPECT_FALSE(e.gated_mlp);
  EXPECT_FALSE(e.causal);
  EXPECT_EQ(e.vocab, 0);
  EXPECT_EQ(e.input_dim, 49);
  EXPECT_EQ(e.tokens_per_unit, 16);
  EXPECT_EQ(e.passes_per_unit, 1);
  // LLM: gated, causal, vocab 264, no input projection, sample-sized units.
  const TransformerSpec& l = s.module[kLlm];
  EXPECT_EQ(l.width, 128);
  EXPECT_EQ(l.layers, 2);
  EXPECT_EQ(l.heads, 4);
  EXPECT_EQ(l.mlp_hidden, 256);
  EXPECT_TRUE(l.gated_mlp);
  EXPECT_TRUE(l.causal);
  EXPECT_EQ(l.vocab, 264);
  EXPECT_EQ(l.input_dim, 0);
  EXPECT_EQ(l.tokens_per_unit, 0);
  EXPECT_EQ(l.passes_per_unit, 1);
  // Generator: 28 / 4 = 7 -> 49 patches + 4 slots = 53 tokens; input 4 x 4 x 1 = 16; 4 noise draws.
  const TransformerSpec& g = s.module[kGenerator];
  EXPECT_EQ(g.width, 64);
  EXPECT_EQ(g.layers, 2);
  EXPECT_EQ(g.heads, 4);
  EXPECT_EQ(g.mlp_hidden, 256);
  EXPECT_FALSE(g.gated_mlp);
  EXPECT_FALSE(g.causal);
  EXPECT_EQ(g.vocab, 0);
  EXPECT_EQ(g.input_dim, 16);
  EXPECT_EQ(g.tokens_per_unit, 53);
  EXPECT_EQ(g.passes_per_unit, 4);
  EXPECT_EQ(s.gen_slots, 4);
}

TEST(ModelCostConfig, DemoModelCosts) {
  const ModelSpec s = ModelSpecFromConfig(ModelConfig{});
  // Parameters. Encoder layer 4 x 64^2 + 2 x 64 x 256 + 9 x 64 + 256 = 49,984;
  // x 2 + (49 x 64 + 64 = 3,200) = 103,168.
  EXPECT_EQ(TotalParams(s.module[kEncoder]), 103168);
  // LLM layer 4 x 128^2 + 3 x 128 x 256 + 2 x 128 = 65,536 + 98,304 + 256 = 164,096;
  // x 2 + (2 x 264 x 128 + 128 = 67,712) = 395,904.
  EXPECT_EQ(TotalParams(s.module[kLlm]), 395904);
  // Generator layer 49,984 (as the encoder); x 2 + (16 x 64 + 64 = 1,088) = 101,056.
  EXPECT_EQ(TotalParams(s.module[kGenerator]), 101056);

  // Encoder image, T 16: layer 32 x 49,152 + 4 x 64 x 256 = 1,572,864 + 65,536
  // = 1,638,400; x 2 + 16 x 2 x 64 x 49 (100,352) = 3,377,152.
  const TransformerSpec& e = s.module[kEncoder];
  EXPECT_DOUBLE_EQ(UnitForwardFlops(e, double(e.tokens_per_unit)), 3377152.0);
  // Generator target, T 53: layer 106 x 49,152 + 4 x 64 x 2,809 = 5,210,112 +
  // 719,104 = 5,929,216; x 2 + 53 x 2 x 64 x 16 (108,544) = 11,966,976; x 4 draws = 47,867,904.
  const TransformerSpec& g = s.module[kGenerator];
  EXPECT_DOUBLE_EQ(UnitForwardFlops(g, double(g.tokens_per_unit)), 47867904.0);
}

}  // namespace
}  // namespace braid::plan
