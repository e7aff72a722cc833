#include "common/reorder/cost_model.h"

namespace braid::reorder {
namespace {

// Forward FLOPs per token of the layer stack (projections + MLP) and the
// attention coefficient per T^2 of one sequence.
double LinearPerToken(const ModuleShape& s) {
  const double C = double(s.width), H = double(s.mlp_hidden > 0 ? s.mlp_hidden : 4 * s.width);
  return double(s.layers) * 2.0 * (4.0 * C * C + (s.gated_mlp ? 3.0 : 2.0) * C * H);
}
double AttentionPerToken2(const ModuleShape& s, bool causal) {
  return double(s.layers) * 4.0 * double(s.width) * (causal ? 0.5 : 1.0);
}

}  // namespace

CostModel FlopCostModel(const ModelShapes& m) {
  CostModel c;
  c.enc_linear = LinearPerToken(m.encoder);
  c.enc_attn = AttentionPerToken2(m.encoder, false);
  c.llm_linear = LinearPerToken(m.llm);
  c.llm_attn = AttentionPerToken2(m.llm, true);
  const double T = double(m.generator_tokens);
  c.gen_target = LinearPerToken(m.generator) * T + AttentionPerToken2(m.generator, false) * T * T;
  return c;
}

ModelShapes ReferenceModelShapes() {
  ModelShapes m;
  m.encoder = {1024, 24, 4096};
  m.llm = {4096, 32, 11008, true};
  m.generator = {1152, 28, 4608};
  m.generator_tokens = 256;
  return m;
}

}  // namespace braid::reorder
