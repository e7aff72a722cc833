#include "common/plan/model_cost.h"

#include <algorithm>

#include "common/base/check.h"
#include "common/config/job_config.h"

namespace braid::plan {
namespace {

// Matrices in the MLP: SwiGLU has gate, up and down projections.
double MlpMatrices(const TransformerSpec& m) { return m.gated_mlp ? 3.0 : 2.0; }

// Weights of one layer: QKV + output projection (4C^2) and the MLP (k C H).
double LayerWeightElements(const TransformerSpec& m) {
  const double C = double(m.width), H = double(m.mlp_hidden);
  return 4.0 * C * C + MlpMatrices(m) * C * H;
}

// Tokens per unit for an image module: (image_size / patch)^2 patches.
int64_t PatchTokens(int image_size, int patch) {
  BRAID_CHECK(patch > 0);
  const int64_t side = image_size / patch;
  return side * side;
}

std::string Prefix(int module) { return std::string(ModuleName(module)) + ": "; }

// "<module>: tp 3 does not divide heads 64", or OK.
Status CheckDivides(int module, const char* degree_name, int degree, const char* dim_name, int64_t dim) {
  if (dim % degree == 0) return Status::Ok();
  return Status::InvalidArgument(Prefix(module) + degree_name + " " + std::to_string(degree) + " does not divide " +
                                 dim_name + " " + std::to_string(dim));
}

Status CheckDegree(int module, const char* name, int degree) {
  if (degree >= 1) return Status::Ok();
  return Status::InvalidArgument(Prefix(module) + name + " " + std::to_string(degree) + " must be >= 1");
}

// Devices a plan may place on this cluster (the budget, or every device).
int64_t UsableDevices(const ClusterSpec& c) {
  return c.devices > 0 ? std::min(c.devices, c.TotalDevices()) : c.TotalDevices();
}

// The intra- or inter-node link at the cluster's communication efficiency.
Link NodeLink(const ClusterSpec& c, bool intra) {
  Link l;
  l.bandwidth = (intra ? c.intra_node_bandwidth : c.inter_node_bandwidth) * c.comm_efficiency;
  l.latency = intra ? c.intra_node_latency : c.inter_node_latency;
  return l;
}

}  // namespace

const char* ModuleName(int module) {
  BRAID_CHECK(module >= 0 && module < kModules);
  static const char* const kNames[kModules] = {"encoder", "llm", "generator"};
  return kNames[module];
}

ModelSpec ModelSpecFromConfig(const ModelConfig& cfg) {
  ModelSpec s;
  const EncoderConfig& e = cfg.encoder;
  const GeneratorConfig& g = cfg.generator;
  // The encoder and the generator are ViT/DiT-style: patches of the
  // encoder's image format (same channels) through an MLP of mlp_ratio x width.
  auto image_module = [&](int width, int layers, int heads, int mlp_ratio, int image_size, int patch) {
    TransformerSpec t;
    t.width = width;
    t.layers = layers;
    t.heads = heads;
    t.mlp_hidden = int64_t(mlp_ratio) * width;
    t.input_dim = int64_t(patch) * patch * e.channels;
    t.tokens_per_unit = PatchTokens(image_size, patch);
    return t;
  };
  s.module[kEncoder] = image_module(e.width, e.layers, e.heads, e.mlp_ratio, e.image_size, e.patch);
  // The generator attends over its patches plus the conditioning slots, once
  // per noise draw.
  TransformerSpec& gen = s.module[kGenerator];
  gen = image_module(g.width, g.layers, g.heads, g.mlp_ratio, g.image_size, g.patch);
  gen.tokens_per_unit += g.gen_slots;
  gen.passes_per_unit = g.noise_samples;
  s.gen_slots = g.gen_slots;

  const LlmConfig& l = cfg.llm;
  TransformerSpec& llm = s.module[kLlm];
  llm.width = l.width;
  llm.layers = l.layers;
  llm.heads = l.heads;
  llm.mlp_hidden = l.mlp_hidden;
  llm.gated_mlp = true;
  llm.causal = true;
  llm.vocab = l.vocab;
  return s;
}

// ---- FLOPs ----

double LayerForwardFlops(const TransformerSpec& m, double tokens) {
  const double T = tokens, C = double(m.width);
  const double matmuls = T * 2.0 * LayerWeightElements(m);
  // QK^T and attention x V: 2 x (2 C T^2); a causal mask skips half.
  const double attention = 4.0 * C * T * T * (m.causal ? 0.5 : 1.0);
  return matmuls + attention;
}

double EdgeForwardFlops(const TransformerSpec& m, double tokens) {
  // The output head (V) and the patch embedding (input_dim) are matmuls;
  // the token embedding is a lookup and costs no FLOPs.
  return tokens * 2.0 * double(m.width) * double(m.vocab + m.input_dim);
}

double LlmStageShare(const TransformerSpec& m, double tokens, int64_t stage_layers, bool last_stage) {
  const double layer = LayerForwardFlops(m, tokens), edge = EdgeForwardFlops(m, tokens);
  const double total = double(m.layers) * layer + edge;
  if (!(total > 0)) return double(stage_layers) / double(std::max<int64_t>(1, m.layers));
  return (double(stage_layers) * layer + (last_stage ? edge : 0.0)) / total;
}

double UnitForwardFlops(const TransformerSpec& m, double tokens) {
  const double one_pass = double(m.layers) * LayerForwardFlops(m, tokens) + EdgeForwardFlops(m, tokens);
  return m.passes_per_unit * one_pass;
}

// ---- Parameters ----

int64_t LayerParams(const TransformerSpec& m) {
  const int64_t C = m.width, H = m.mlp_hidden;
  const int64_t k = m.gated_mlp ? 3 : 2;
  const int64_t weights = 4 * C * C + k * C * H;
  // Llama-style: two RMSNorm scales. ViT/DiT-style: QKV + output biases
  // (4C), MLP biases (H + C), two LayerNorms with scale and shift (4C).
  const int64_t vectors = m.gated_mlp ? 2 * C : 9 * C + H;
  return weights + vectors;
}

int64_t EdgeParams(const TransformerSpec& m) {
  // Token embedding and untied head (2 V C), patch embedding weight and
  // bias (input_dim C + C) or, for the LLM, the final norm (C).
  return 2 * m.vocab * m.width + m.input_dim * m.width + m.width;
}

int64_t TotalParams(const TransformerSpec& m) { return m.layers * LayerParams(m) + EdgeParams(m); }

double StageParamsPerDevice(const TransformerSpec& m, int64_t stage_layers, bool has_edges, int tp) {
  return (double(stage_layers) * double(LayerParams(m)) + (has_edges ? double(EdgeParams(m)) : 0.0)) / tp;
}

// ---- Layouts ----

Status CheckLayout(const TransformerSpec& m, int module, const Layout& l) {
  RETURN_IF_ERROR(CheckDegree(module, "tp", l.tp));
  RETURN_IF_ERROR(CheckDegree(module, "pp", l.pp));
  RETURN_IF_ERROR(CheckDegree(module, "dp", l.dp));
  // Megatron TP splits attention by heads and the projections by columns.
  RETURN_IF_ERROR(CheckDivides(module, "tp", l.tp, "heads", m.heads));
  RETURN_IF_ERROR(CheckDivides(module, "tp", l.tp, "width", m.width));
  RETURN_IF_ERROR(CheckDivides(module, "tp", l.tp, "mlp_hidden", m.mlp_hidden));
  if (l.pp > 1 && module != kLlm) {
    return Status::InvalidArgument(Prefix(module) + "pp " + std::to_string(l.pp) +
                                   " is not supported (only the llm is pipelined)");
  }
  if (l.pp > m.layers) {
    return Status::InvalidArgument(Prefix(module) + "pp " + std::to_string(l.pp) + " exceeds layers " +
                                   std::to_string(m.layers));
  }
  return Status::Ok();
}

std::vector<int64_t> SplitLayers(int64_t layers, int pp) {
  BRAID_CHECK(pp >= 1 && pp <= layers);
  const int64_t base = layers / pp, extra = layers % pp;
  std::vector<int64_t> split(size_t(pp), base);
  for (int64_t i = 0; i < extra; ++i) split[size_t(i)] += 1;
  return split;
}

// ---- Memory ----

double StageMemoryBytes(const TransformerSpec& m, int64_t stage_layers, bool has_edges, int tp, int dp,
                        double mb_tokens, int inflight, const MemoryOptions& opt) {
  BRAID_CHECK(stage_layers >= 0 && tp >= 1 && dp >= 1 && mb_tokens >= 0 && inflight >= 0);
  const double params = StageParamsPerDevice(m, stage_layers, has_edges, tp);
  const double weights_and_grads = params * (2.0 + 4.0);
  const double optimizer = params * 12.0 / (opt.distributed_optimizer ? dp : 1);

  // Bytes of activations per token and layer, per device (Korthikanti et
  // al. 2022, sequence parallel, flash attention: 34 C / tp).
  const double C = double(m.width);
  const double full_layer = 34.0 * C / tp;
  const double alive_tokens = mb_tokens * inflight;
  double activations = 0;
  if (!opt.recompute) {
    activations = alive_tokens * double(stage_layers) * full_layer;
  } else {
    // Only each layer's bf16 input is kept; one layer at a time is
    // recomputed to full size during the backward (none if nothing runs).
    const double layer_input = 2.0 * C / tp;
    const bool recomputes = stage_layers > 0 && inflight > 0;
    activations = alive_tokens * double(stage_layers) * layer_input + (recomputes ? mb_tokens * full_layer : 0.0);
  }
  return weights_and_grads + optimizer + activations;
}

// ---- Communication ----

Link GroupLink(const ClusterSpec& c, int64_t stride, int64_t size) {
  BRAID_CHECK(stride >= 1 && size >= 1 && c.devices_per_node >= 1);
  // A group lies in an aligned block of stride x size devices; when that
  // block size divides the node every block (so every group) stays inside
  // one node. A plan that fits in one node never leaves it.
  const int64_t block = stride * size;
  return NodeLink(c, UsableDevices(c) <= c.devices_per_node || c.devices_per_node % block == 0);
}

Link BoundaryLink(const ClusterSpec& c) { return NodeLink(c, c.nodes <= 1); }

double AllReduceSeconds(double bytes, int64_t n, const Link& l) {
  if (n <= 1) return 0;
  BRAID_CHECK(l.bandwidth > 0);
  // Ring: reduce-scatter then all-gather, each n-1 steps of bytes/n.
  const double steps = 2.0 * double(n - 1);
  return steps / double(n) * bytes / l.bandwidth + steps * l.latency;
}

double SendSeconds(double bytes, const Link& l) {
  if (bytes <= 0) return 0;
  BRAID_CHECK(l.bandwidth > 0);
  return bytes / l.bandwidth + l.latency;
}

double TpLayerCommSeconds(const TransformerSpec& m, double tokens, int tp, const Link& l) {
  // One all-reduce after attention, one after the MLP, of the bf16 [T, C]
  // activations (with sequence parallelism: reduce-scatter + all-gather,
  // the same bytes on the wire).
  const double bytes = tokens * double(m.width) * 2.0;
  return 2.0 * AllReduceSeconds(bytes, tp, l);
}

// ---- A stage's step tail ----

double GradAllReduceSeconds(const ClusterSpec& c, double params_per_device, int tp, int pp, int dp) {
  return AllReduceSeconds(2.0 * params_per_device, dp, GroupLink(c, int64_t(tp) * pp, dp));
}

double OptimizerSeconds(const ClusterSpec& c, double params_per_device, int dp, const MemoryOptions& opt) {
  constexpr double kBytesPerParam = 30.0;
  const double local = opt.distributed_optimizer ? params_per_device / dp : params_per_device;
  return local * kBytesPerParam / c.memory_bandwidth;
}

}  // namespace braid::plan
