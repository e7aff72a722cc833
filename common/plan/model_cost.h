// Analytic costs of the three modules (docs/PLANNER.md "Cost model"): FLOPs
// per unit of work, parameter counts, memory per device and communication
// time under a (TP, PP, DP) layout on a ClusterSpec. Pure functions; every
// formula is written next to its declaration and tested against
// hand-computed values in tests/plan_model_cost_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/plan/cluster_spec.h"

namespace braid {
struct ModelConfig;
}

namespace braid::plan {

enum Module : int { kEncoder = 0, kLlm = 1, kGenerator = 2 };
constexpr int kModules = 3;
const char* ModuleName(int module);  // "encoder", "llm", "generator"

// One transformer. C = width, L = layers, H = mlp_hidden, V = vocab.
struct TransformerSpec {
  int64_t width = 0, layers = 0, heads = 0, mlp_hidden = 0;
  bool gated_mlp = false;       // SwiGLU: three C x H matrices instead of two
  bool causal = false;          // attention FLOPs halved
  int64_t vocab = 0;            // LLM: token embedding + untied output head; 0 = none
  int64_t input_dim = 0;        // encoder / generator: patch embedding input (patch^2 x channels); 0 = none
  int64_t tokens_per_unit = 0;  // encoder: tokens per image; generator: tokens per target; LLM: 0 (a sample's own)
  double passes_per_unit = 1;   // generator: noise draws per target and step (each a full pass)
};

struct ModelSpec {
  TransformerSpec module[kModules];
  int64_t gen_slots = 0;  // LLM hidden states sent to the generator per generation target
};

// The job's model (common/config/job_config.h) as the planner sees it:
// encoder tokens_per_unit = (image_size / patch)^2, input_dim = patch^2 x
// channels, mlp_hidden = mlp_ratio x width; LLM gated and causal with its
// vocab; generator tokens_per_unit = (image_size / patch)^2 + gen_slots,
// input_dim = patch^2 x encoder channels, passes_per_unit = noise_samples.
ModelSpec ModelSpecFromConfig(const ModelConfig& m);

// ---- FLOPs (2 per multiply-add; matmuls only) ----
// One layer's forward over one sequence of T tokens:
//   T x 2 x (4C^2 + k C H)  (k = 3 gated, 2 otherwise: QKV + output projections, MLP)
//   + 4 C T^2, halved when causal  (attention scores and weighted values)
double LayerForwardFlops(const TransformerSpec& m, double tokens);
// The non-layer matmuls per sequence of T tokens: T x 2 x C x (V + input_dim).
double EdgeForwardFlops(const TransformerSpec& m, double tokens);
// The share of an LLM unit's forward FLOPs (T tokens) that a pipeline stage
// of `stage_layers` layers computes: its layers, plus the output head on the
// last stage (the embedding lookup is not a matmul).
double LlmStageShare(const TransformerSpec& m, double tokens, int64_t stage_layers, bool last_stage);
// A unit's forward: passes_per_unit x (L x LayerForwardFlops + EdgeForwardFlops)
// at T = tokens (encoder / generator callers pass tokens_per_unit).
double UnitForwardFlops(const TransformerSpec& m, double tokens);
// Backward = 2 x forward; with full recomputation a step also repeats the
// forward: training FLOPs of a unit = (3 + recompute) x forward. Model FLOPs
// for MFU count 3 x forward (no recomputation).

// ---- Parameters ----
// Per layer: weights 4C^2 + k C H; vectors: gated (Llama-style: RMSNorm,
// no biases) 2C, otherwise (ViT/DiT-style: biases, LayerNorm) 9C + H
// (QKV and output biases 4C, MLP biases H + C, two norms 4C).
int64_t LayerParams(const TransformerSpec& m);
// Embedding/head and patch embedding: 2 V C + input_dim C + C.
int64_t EdgeParams(const TransformerSpec& m);
int64_t TotalParams(const TransformerSpec& m);  // L x LayerParams + EdgeParams
// What one device of a stage holds: (stage_layers x LayerParams + has_edges
// x EdgeParams) / tp.
double StageParamsPerDevice(const TransformerSpec& m, int64_t stage_layers, bool has_edges, int tp);

// ---- Layouts ----
struct Layout {
  int tp = 1, pp = 1, dp = 1;
  int64_t Devices() const { return int64_t(tp) * pp * dp; }
  bool operator==(const Layout&) const = default;
};
// OK, or InvalidArgument naming what does not divide: every degree >= 1;
// tp divides heads, width and mlp_hidden; pp <= layers; pp == 1 for the
// encoder and the generator (only the LLM is pipelined).
Status CheckLayout(const TransformerSpec& m, int module, const Layout& l);
// Layers per PP stage, as even as possible, the earlier stages taking the
// remainder: SplitLayers(10, 4) = {3, 3, 2, 2}. Precondition 1 <= pp <= layers.
std::vector<int64_t> SplitLayers(int64_t layers, int pp);

// ---- Memory per device (bytes) ----
struct MemoryOptions {
  bool distributed_optimizer = true;  // fp32 master weights and Adam states sharded over DP (ZeRO-1)
  bool recompute = false;             // full activation recomputation
};
// One device of a PP stage holding `stage_layers` layers (plus the edge
// parameters when `has_edges`), under tensor degree tp and data degree dp,
// with `inflight` microbatches of `mb_tokens` tokens each (the tokens this
// device's DP rank processes per microbatch) alive at peak:
//   parameters P = StageParamsPerDevice
//   weights and gradients: P x (2 + 4)  (bf16 weights, fp32 gradients)
//   master weights and Adam: P x 12 / (dp if distributed_optimizer else 1)
//   activations: mb_tokens x inflight x stage_layers x 34 C / tp (bf16, flash
//     attention, sequence parallel: Korthikanti et al. 2022 without the
//     5as/h term); with recompute: mb_tokens x inflight x stage_layers x 2 C / tp
//     (each layer's input) + mb_tokens x 34 C / tp (the layer being recomputed).
double StageMemoryBytes(const TransformerSpec& m, int64_t stage_layers, bool has_edges, int tp, int dp,
                        double mb_tokens, int inflight, const MemoryOptions& opt);

// ---- Communication time (seconds) ----
struct Link {
  double bandwidth = 0;  // bytes/s, already x comm_efficiency
  double latency = 0;    // s per message
};
// The link a group of `size` devices at index stride `stride` uses: inside a
// node when stride x size divides devices_per_node (TP innermost, then PP, then
// DP; modules start on node boundaries, so no group straddles two nodes) or
// the usable devices fit in one node, else between nodes.
Link GroupLink(const ClusterSpec& c, int64_t stride, int64_t size);
// Between two modules: the inter-node link whenever the cluster has
// several nodes (modules start on node boundaries), else the intra-node one.
Link BoundaryLink(const ClusterSpec& c);
// Ring all-reduce of `bytes` over n devices: 2 (n-1)/n x bytes / bw + 2 (n-1) x latency; 0 when n <= 1.
double AllReduceSeconds(double bytes, int64_t n, const Link& l);
// One point-to-point message: bytes / bw + latency; 0 when bytes <= 0.
double SendSeconds(double bytes, const Link& l);
// Megatron TP traffic of one layer's forward (its backward costs the same):
// two all-reduces of T x C x 2 bytes over tp devices.
double TpLayerCommSeconds(const TransformerSpec& m, double tokens, int tp, const Link& l);

// ---- A stage's step tail (seconds) ----
// DP all-reduce of a stage's bf16 gradients (2 bytes x params_per_device)
// over dp devices at index stride tp x pp.
double GradAllReduceSeconds(const ClusterSpec& c, double params_per_device, int tp, int pp, int dp);
// The Adam step on one device: 30 bytes of memory traffic per local
// parameter (fp32 master, gradient, m, v read; master, m, v and the bf16
// weight written) over the memory bandwidth; the local parameters are
// params_per_device / dp with the distributed optimizer.
double OptimizerSeconds(const ClusterSpec& c, double params_per_device, int dp, const MemoryOptions& opt);

}  // namespace braid::plan
