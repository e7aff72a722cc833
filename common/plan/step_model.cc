#include "common/plan/step_model.h"

#include <algorithm>
#include <numeric>

namespace braid::plan {
namespace {

constexpr double kBf16Bytes = 2.0;

// Per microbatch and rank of one module: forward seconds on one device and
// the tokens those units carry (for activation sizes and messages).
struct RankLoads {
  std::vector<std::vector<double>> seconds;  // [mb][rank]
  std::vector<std::vector<double>> tokens;   // [mb][rank]
  std::vector<std::vector<double>> units;    // [mb][rank]: images, samples or targets
  void Resize(int mbs, int ranks) {
    seconds.assign(mbs, std::vector<double>(ranks, 0.0));
    tokens = seconds;
    units = seconds;
  }
  // The largest entry of microbatch `mb` of `v` (seconds, tokens or units).
  static double Max(const std::vector<std::vector<double>>& v, int mb) {
    return *std::max_element(v[mb].begin(), v[mb].end());
  }
  int Argmax(int mb) const {
    const auto& s = seconds[mb];
    return int(std::max_element(s.begin(), s.end()) - s.begin());
  }
};

double ImageSeconds(const PlanContext& ctx, const reorder::WorkSample& s) {
  return ctx.unit_seconds.EncoderImage(s.image_tokens);
}

// braid: the reorder policy's plan, each module at its own granularity.
void LoadsFromPlan(const PlanContext& ctx, const reorder::BatchPlan& plan, const Candidate& cand,
                   RankLoads loads[kModules]) {
  const int M = int(plan.microbatches.size());
  for (int m = 0; m < kModules; ++m) loads[m].Resize(M, cand.layout[m].dp);
  for (int k = 0; k < M; ++k) {
    const auto& mb = plan.microbatches[k];
    for (size_t i = 0; i < mb.samples.size(); ++i) {
      const reorder::WorkSample& s = ctx.batch[mb.samples[i]];
      const int lr = mb.llm_rank[i];
      loads[kLlm].seconds[k][lr] += ctx.unit_seconds.LlmSample(s.llm_tokens());
      loads[kLlm].tokens[k][lr] += double(s.llm_tokens());
      loads[kLlm].units[k][lr] += 1;
      for (int32_t er : mb.encoder_rank[i]) {
        loads[kEncoder].seconds[k][er] += ImageSeconds(ctx, s);
        loads[kEncoder].tokens[k][er] += double(s.image_tokens);
        loads[kEncoder].units[k][er] += 1;
      }
      const double gen_tokens = double(ctx.model.module[kGenerator].tokens_per_unit);
      for (int32_t gr : mb.generator_rank[i]) {
        loads[kGenerator].seconds[k][gr] += ctx.unit_seconds.GeneratorTarget();
        loads[kGenerator].tokens[k][gr] += gen_tokens;
        loads[kGenerator].units[k][gr] += 1;
      }
    }
  }
}

// The baseline: contiguous microbatches, each split into `dp` contiguous
// runs of equal sample counts; a sample's images and targets stay on its rank.
void LoadsInOrder(const PlanContext& ctx, int M, int dp, RankLoads loads[kModules]) {
  for (int m = 0; m < kModules; ++m) loads[m].Resize(M, dp);
  const int64_t n = int64_t(ctx.batch.size()), per_mb = n / M;
  const double gen_tokens = double(ctx.model.module[kGenerator].tokens_per_unit);
  for (int k = 0; k < M; ++k) {
    for (int r = 0; r < dp; ++r) {
      const SampleRange range = InOrderRankSamples(per_mb, dp, r);
      for (int64_t i = range.lo; i < range.hi; ++i) {
        const reorder::WorkSample& s = ctx.batch[k * per_mb + i];
        loads[kLlm].seconds[k][r] += ctx.unit_seconds.LlmSample(s.llm_tokens());
        loads[kLlm].tokens[k][r] += double(s.llm_tokens());
        loads[kLlm].units[k][r] += 1;
        loads[kEncoder].seconds[k][r] += s.images * ImageSeconds(ctx, s);
        loads[kEncoder].tokens[k][r] += double(s.images) * s.image_tokens;
        loads[kEncoder].units[k][r] += s.images;
        loads[kGenerator].seconds[k][r] += s.gen_images * ctx.unit_seconds.GeneratorTarget();
        loads[kGenerator].tokens[k][r] += s.gen_images * gen_tokens;
        loads[kGenerator].units[k][r] += s.gen_images;
      }
    }
  }
}

double ModelFlops(const PlanContext& ctx) {
  const ModelSpec& m = ctx.model;
  double f = 0;
  for (const reorder::WorkSample& s : ctx.batch) {
    f += s.images * UnitForwardFlops(m.module[kEncoder], double(s.image_tokens));
    f += UnitForwardFlops(m.module[kLlm], double(s.llm_tokens()));
    f += s.gen_images * UnitForwardFlops(m.module[kGenerator], double(m.module[kGenerator].tokens_per_unit));
  }
  return 3.0 * f;
}

// One module's part of a stage: `frac` of its layers (and of its per-unit
// cost), `layers` layers of TP traffic, its edge parameters if `edges`.
struct Part {
  int module = 0;
  double frac = 1;
  int64_t layers = 0;
  bool edges = false;
};

// Builds one simulator stage from the parts it runs. For each microbatch the
// stage waits for its most loaded rank (load summed over the parts, since a
// rank runs them one after another).
struct StageBuilder {
  const PlanContext& ctx;
  const Candidate& cand;
  const RankLoads* loads;  // [kModules]
  int tp = 1, dp = 1;

  double Compute(const std::vector<Part>& parts, int k, int r) const {
    double s = 0;
    for (const Part& p : parts) s += loads[p.module].seconds[k][r] * p.frac;
    return s;
  }
  int MaxRank(const std::vector<Part>& parts, int k) const {
    int best = 0;
    double best_s = -1;
    for (int r = 0; r < dp; ++r) {
      const double s = Compute(parts, k, r);
      if (s > best_s) best_s = s, best = r;
    }
    return best;
  }
  double TpComm(const std::vector<Part>& parts, int k, int r) const {
    if (tp <= 1) return 0;
    double s = 0;
    const Link l = GroupLink(ctx.cluster, 1, tp);
    for (const Part& p : parts)
      s += double(p.layers) * TpLayerCommSeconds(ctx.model.module[p.module], loads[p.module].tokens[k][r], tp, l);
    return s;
  }
  double StageParams(const std::vector<Part>& parts) const {
    double n = 0;
    for (const Part& p : parts) n += StageParamsPerDevice(ctx.model.module[p.module], p.layers, p.edges, tp);
    return n;
  }

  // Fills fwd/bwd (and the max rank per microbatch) of `st`.
  void Costs(const std::vector<Part>& parts, SimStage* st, std::vector<int>* max_rank) const {
    const int M = cand.microbatches;
    const bool shared = ctx.cluster.shared_compute;
    st->fwd.assign(M, 0);
    st->bwd.assign(M, 0);
    max_rank->assign(M, 0);
    for (int k = 0; k < M; ++k) {
      const int r = MaxRank(parts, k);
      (*max_rank)[k] = r;
      const double c = Compute(parts, k, r) / tp;
      const double comm = TpComm(parts, k, r);
      // On shared cores every rank's process computes at once: the pool sees
      // dp x tp ranks' work (each as loaded as the most loaded one; a TP
      // rank does 1/tp of its replica's), so TP divides no work there.
      const double scale = shared ? double(dp) * tp : 1.0;
      st->fwd[k] = scale * c + comm;
      st->bwd[k] = scale * c * (ctx.backward_ratio + (cand.recompute ? 1.0 : 0.0)) + comm;
    }
  }

  double Memory(const std::vector<Part>& parts, const std::vector<int>& max_rank, int inflight) const {
    MemoryOptions mo = ctx.memory;
    mo.recompute = cand.recompute;
    double bytes = 0;
    for (const Part& p : parts) {
      double mb_tokens = 0;
      for (size_t k = 0; k < max_rank.size(); ++k)
        mb_tokens = std::max(mb_tokens, loads[p.module].tokens[k][max_rank[k]]);
      bytes += StageMemoryBytes(ctx.model.module[p.module], p.layers, p.edges, tp, dp, mb_tokens, inflight, mo);
    }
    return bytes;
  }

  void Network(const std::vector<Part>& parts, int pp, SimStage* st) const {
    const double params = StageParams(parts);
    st->allreduce = GradAllReduceSeconds(ctx.cluster, params, tp, pp, dp);
    int64_t layers = 0;
    for (const Part& p : parts) layers += p.layers;
    st->buckets = int(std::max<int64_t>(1, layers));
    // On shared cores every rank's process runs its own optimizer step.
    st->optimizer =
        OptimizerSeconds(ctx.cluster, params, dp, ctx.memory) * (ctx.cluster.shared_compute ? double(dp) * tp : 1.0);
  }
};

double MessageSeconds(double tokens, int64_t width, const Link& l) {
  return SendSeconds(tokens * double(width) * kBf16Bytes, l);
}

Status CheckCandidate(const PlanContext& ctx, const Candidate& cand) {
  const int64_t n = int64_t(ctx.batch.size());
  if (n == 0) return Status::InvalidArgument("the batch has no samples");
  if (cand.microbatches < 1 || n % cand.microbatches != 0)
    return Status::InvalidArgument("microbatches " + std::to_string(cand.microbatches) + " does not divide the batch of " +
                                   std::to_string(n));
  const int64_t per_mb = n / cand.microbatches;
  for (int m = 0; m < kModules; ++m) {
    Layout l = cand.layout[m];
    if (cand.colocated && m != kLlm) l.pp = 1;
    RETURN_IF_ERROR(CheckLayout(ctx.model.module[m], m, l));
  }
  if (cand.layout[kLlm].dp > per_mb)
    return Status::InvalidArgument("llm: dp " + std::to_string(cand.layout[kLlm].dp) + " exceeds the " +
                                   std::to_string(per_mb) + " samples per microbatch");
  const auto& sl = cand.llm_stage_layers;
  if (int(sl.size()) != cand.layout[kLlm].pp)
    return Status::InvalidArgument("llm_stage_layers: " + std::to_string(sl.size()) + " stages, pp is " +
                                   std::to_string(cand.layout[kLlm].pp));
  for (int64_t x : sl)
    if (x < (cand.colocated ? 0 : 1)) return Status::InvalidArgument("llm_stage_layers: a stage has no layers");
  if (std::accumulate(sl.begin(), sl.end(), int64_t(0)) != ctx.model.module[kLlm].layers)
    return Status::InvalidArgument("llm_stage_layers: do not sum to the llm's layers");
  if (cand.colocated)
    for (int m : {kEncoder, kGenerator})
      if (cand.layout[m].tp != cand.layout[kLlm].tp || cand.layout[m].dp != cand.layout[kLlm].dp)
        return Status::InvalidArgument(std::string(ModuleName(m)) + ": the baseline shares the llm's tp and dp");
  return Status::Ok();
}

// The mean LLM sequence length of the plan's batch (for LlmStageShare).
double MeanLlmTokens(const PlanContext& ctx) {
  double t = 0;
  for (const reorder::WorkSample& w : ctx.batch) t += double(w.llm_tokens());
  return ctx.batch.empty() ? 0.0 : t / double(ctx.batch.size());
}

// ranks: the stage's processes (dp x tp), each computing at up to the
// module's rank_rate on the shared pool.
void PlaceOnPool(const PlanContext& ctx, int module, int ranks, SimStage* st) {
  if (!ctx.cluster.shared_compute) return;
  st->pool = 0;
  st->max_rate = ranks * ctx.rank_rate[module];
  st->devices = ranks;
}

StatusOr<StepModel> BuildDisaggregated(const PlanContext& ctx, const Candidate& cand) {
  reorder::PlanOptions po;
  po.microbatches = cand.microbatches;
  po.layout = {cand.layout[kEncoder].dp, cand.layout[kLlm].dp, cand.layout[kGenerator].dp};
  po.cost = ctx.unit_seconds;
  po.cost.backward_ratio = ctx.backward_ratio;
  const reorder::BatchPlan plan = reorder::PlanBatch(ctx.batch, ctx.policy, po);
  RankLoads loads[kModules];
  LoadsFromPlan(ctx, plan, cand, loads);

  StepModel out;
  out.model_flops = ModelFlops(ctx);
  const ModelSpec& mod = ctx.model;
  const int M = cand.microbatches, pp = cand.layout[kLlm].pp;
  const int S = pp + 2;
  const Link boundary = BoundaryLink(ctx.cluster);
  auto& stages = out.sim.stages;
  stages.resize(S);
  std::vector<std::vector<int>> max_rank(S);
  // Encoder, LLM stages, generator.
  for (int s = 0; s < S; ++s) {
    const int m = s == 0 ? kEncoder : (s == S - 1 ? kGenerator : kLlm);
    const Layout& l = cand.layout[m];
    StageBuilder b{ctx, cand, loads, l.tp, l.dp};
    std::vector<Part> parts;
    if (m == kLlm) {
      const int j = s - 1;
      const int64_t lj = cand.llm_stage_layers[j];
      // Its layers' share of the LLM's work, plus the output head on the last stage.
      parts.push_back({kLlm, LlmStageShare(mod.module[kLlm], MeanLlmTokens(ctx), lj, j == pp - 1), lj,
                       j == 0 || j == pp - 1});
    } else {
      parts.push_back({m, 1.0, mod.module[m].layers, true});
    }
    SimStage& st = stages[s];
    st.name = m == kLlm ? "llm.pp" + std::to_string(s - 1) : ModuleName(m);
    st.warmup = S - 1 - s;
    st.fused = s == S - 1;
    st.devices = double(l.tp) * l.dp;
    b.Costs(parts, &st, &max_rank[s]);
    b.Network(parts, m == kLlm ? pp : 1, &st);
    PlaceOnPool(ctx, m, l.dp * l.tp, &st);
    const int inflight = std::min(M, st.warmup + 1);
    out.memory_bytes[m] = std::max(out.memory_bytes[m], b.Memory(parts, max_rank[s], inflight));
  }
  out.first_stage[kEncoder] = 0, out.stage_count[kEncoder] = 1;
  out.first_stage[kLlm] = 1, out.stage_count[kLlm] = pp;
  out.first_stage[kGenerator] = S - 1, out.stage_count[kGenerator] = 1;

  // Transfers: encoder -> LLM (image embeddings at the LLM's width), between
  // LLM stages (hidden states), LLM -> generator (gen_slots states per
  // target); gradients back the same way. The most loaded sender's bytes.
  const int64_t C = mod.module[kLlm].width;
  const Link pp_link = GroupLink(ctx.cluster, cand.layout[kLlm].tp, pp);
  for (int s = 0; s < S; ++s) {
    stages[s].send_fwd.assign(M, 0);
    stages[s].send_bwd.assign(M, 0);
  }
  for (int k = 0; k < M; ++k) {
    const double enc_tokens = RankLoads::Max(loads[kEncoder].tokens, k);
    const double gen_units = RankLoads::Max(loads[kGenerator].units, k);
    const double llm_tokens = RankLoads::Max(loads[kLlm].tokens, k);
    stages[0].send_fwd[k] = MessageSeconds(enc_tokens, C, boundary);
    stages[1].send_bwd[k] = MessageSeconds(enc_tokens, C, boundary);
    for (int j = 0; j + 1 < pp; ++j) {
      stages[1 + j].send_fwd[k] = MessageSeconds(llm_tokens, C, pp_link);
      stages[2 + j].send_bwd[k] = MessageSeconds(llm_tokens, C, pp_link);
    }
    stages[S - 2].send_fwd[k] = MessageSeconds(gen_units * double(mod.gen_slots), C, boundary);
    stages[S - 1].send_bwd[k] = MessageSeconds(gen_units * double(mod.gen_slots), C, boundary);
  }
  out.sim.microbatches = M;
  if (ctx.cluster.shared_compute) out.sim.pools = {double(ctx.cluster.devices)};
  return out;
}

StatusOr<StepModel> BuildColocated(const PlanContext& ctx, const Candidate& cand) {
  const int M = cand.microbatches;
  const Layout& l = cand.layout[kLlm];
  RankLoads loads[kModules];
  LoadsInOrder(ctx, M, l.dp, loads);
  StepModel out;
  out.model_flops = ModelFlops(ctx);
  const ModelSpec& mod = ctx.model;
  const int pp = l.pp;
  StageBuilder b{ctx, cand, loads, l.tp, l.dp};
  auto& stages = out.sim.stages;
  stages.resize(pp);
  // Hidden states between PP stages: the most loaded rank's tokens.
  const Link pp_link = GroupLink(ctx.cluster, l.tp, pp);
  std::vector<double> hidden(M);
  for (int k = 0; k < M; ++k)
    hidden[k] = MessageSeconds(RankLoads::Max(loads[kLlm].tokens, k), mod.module[kLlm].width, pp_link);
  for (int j = 0; j < pp; ++j) {
    const int64_t lj = cand.llm_stage_layers[j];
    std::vector<Part> parts;
    if (j == 0) parts.push_back({kEncoder, 1.0, mod.module[kEncoder].layers, true});
    parts.push_back({kLlm, double(lj) / double(mod.module[kLlm].layers), lj, j == 0 || j == pp - 1});
    if (j == pp - 1) parts.push_back({kGenerator, 1.0, mod.module[kGenerator].layers, true});
    SimStage& st = stages[j];
    st.name = "stage" + std::to_string(j);
    st.warmup = pp - 1 - j;
    st.devices = double(l.tp) * l.dp;
    std::vector<int> max_rank;
    b.Costs(parts, &st, &max_rank);
    b.Network(parts, pp, &st);
    PlaceOnPool(ctx, kLlm, l.dp * l.tp, &st);  // every process runs all three modules: at the LLM's rate
    const double mem = b.Memory(parts, max_rank, std::min(M, pp - j));
    for (const Part& p : parts) out.memory_bytes[p.module] = std::max(out.memory_bytes[p.module], mem);
    st.send_fwd = j + 1 < pp ? hidden : std::vector<double>(M, 0.0);
    st.send_bwd = j > 0 ? hidden : std::vector<double>(M, 0.0);
  }
  out.first_stage[kEncoder] = 0, out.stage_count[kEncoder] = 1;
  out.first_stage[kLlm] = 0, out.stage_count[kLlm] = pp;
  out.first_stage[kGenerator] = pp - 1, out.stage_count[kGenerator] = 1;
  out.sim.microbatches = M;
  if (ctx.cluster.shared_compute) out.sim.pools = {double(ctx.cluster.devices)};
  return out;
}

}  // namespace

reorder::CostModel FlopSecondsPerUnit(const ModelSpec& m, const ClusterSpec& c) {
  const double rate = c.peak_flops * c.compute_efficiency;
  reorder::CostModel cm;
  const TransformerSpec& e = m.module[kEncoder];
  cm.enc_linear = UnitForwardFlops(e, double(e.tokens_per_unit)) / std::max<int64_t>(1, e.tokens_per_unit) / rate;
  cm.enc_attn = 0;  // every image has tokens_per_unit tokens: the per-image cost is exact in the linear term
  const TransformerSpec& l = m.module[kLlm];
  const double f1 = UnitForwardFlops(l, 1.0), f2 = UnitForwardFlops(l, 2.0);
  cm.llm_attn = (f2 - 2.0 * f1) / 2.0 / rate;
  cm.llm_linear = f1 / rate - cm.llm_attn;
  const TransformerSpec& g = m.module[kGenerator];
  cm.gen_target = UnitForwardFlops(g, double(g.tokens_per_unit)) / rate;
  return cm;
}

int64_t Candidate::Devices() const {
  if (colocated) return layout[kLlm].Devices();
  return layout[kEncoder].Devices() + layout[kLlm].Devices() + layout[kGenerator].Devices();
}

StatusOr<StepModel> BuildStep(const PlanContext& ctx, const Candidate& cand) {
  RETURN_IF_ERROR(CheckCandidate(ctx, cand));
  return cand.colocated ? BuildColocated(ctx, cand) : BuildDisaggregated(ctx, cand);
}

StatusOr<Prediction> Predict(const PlanContext& ctx, const Candidate& cand, SimResult* sim_out, StepModel* step_out) {
  ASSIGN_OR_RETURN(StepModel step, BuildStep(ctx, cand));
  ASSIGN_OR_RETURN(SimResult r, Simulate(step.sim));
  Prediction p;
  p.step_seconds = r.step_seconds;
  p.devices = ctx.cluster.shared_compute ? ctx.cluster.devices : cand.Devices();
  p.mfu = p.step_seconds > 0 ? step.model_flops / (p.step_seconds * double(p.devices) * ctx.cluster.peak_flops) : 0;
  p.bubble_fraction = r.bubble_fraction;
  for (int m = 0; m < kModules; ++m) {
    p.memory_bytes[m] = step.memory_bytes[m];
    for (int s = step.first_stage[m]; s < step.first_stage[m] + step.stage_count[m]; ++s)
      p.utilisation[m] = std::max(p.utilisation[m], p.step_seconds > 0 ? r.busy[s] / p.step_seconds : 0.0);
  }
  if (sim_out) *sim_out = std::move(r);
  if (step_out) *step_out = std::move(step);
  return p;
}

}  // namespace braid::plan
