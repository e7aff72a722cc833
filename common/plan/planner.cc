#include "common/plan/planner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <queue>

namespace braid::plan {
namespace {

constexpr int kTopK = 16;           // candidates of each space simulated after the estimate
constexpr size_t kExhaustive = 64;  // spaces this small are simulated whole
constexpr double kInf = std::numeric_limits<double>::infinity();

// One module's work in one global batch, for the estimate.
struct WorkStats {
  double seconds = 0, tokens = 0, units = 0;  // totals (forward seconds on one device)
  std::vector<double> heaviest;               // unit costs, descending (the largest 64 suffice)
  std::vector<double> heaviest_prefix;        // prefix sums of `heaviest`
  double max_unit_tokens = 0;
};

WorkStats Stats(const PlanContext& ctx, int module) {
  WorkStats w;
  std::vector<double> units;
  const double gen_tokens = double(ctx.model.module[kGenerator].tokens_per_unit);
  for (const reorder::WorkSample& s : ctx.batch) {
    if (module == kEncoder) {
      for (int i = 0; i < s.images; ++i) units.push_back(ctx.unit_seconds.EncoderImage(s.image_tokens));
      w.tokens += double(s.images) * s.image_tokens;
      if (s.images > 0) w.max_unit_tokens = std::max(w.max_unit_tokens, double(s.image_tokens));
    } else if (module == kLlm) {
      units.push_back(ctx.unit_seconds.LlmSample(s.llm_tokens()));
      w.tokens += double(s.llm_tokens());
      w.max_unit_tokens = std::max(w.max_unit_tokens, double(s.llm_tokens()));
    } else {
      for (int i = 0; i < s.gen_images; ++i) units.push_back(ctx.unit_seconds.GeneratorTarget());
      w.tokens += s.gen_images * gen_tokens;
      if (s.gen_images > 0) w.max_unit_tokens = gen_tokens;
    }
  }
  w.units = double(units.size());
  w.seconds = std::accumulate(units.begin(), units.end(), 0.0);
  const size_t keep = std::min<size_t>(units.size(), 64);
  std::partial_sort(units.begin(), units.begin() + keep, units.end(), std::greater<double>());
  w.heaviest.assign(units.begin(), units.begin() + keep);
  w.heaviest_prefix.resize(keep + 1, 0);
  for (size_t i = 0; i < keep; ++i) w.heaviest_prefix[i + 1] = w.heaviest_prefix[i] + w.heaviest[i];
  return w;
}

// Mean over M balanced microbatches of the most loaded of dp ranks: each
// microbatch's mean rank load, or its heaviest unit when that is larger
// (LPT spreads the M heaviest units over the M microbatches).
double MaxRankLoad(const WorkStats& w, int M, int dp) {
  const double mean = w.seconds / (double(M) * dp);
  const size_t n = std::min<size_t>(w.heaviest.size(), size_t(M));
  const size_t j = size_t(std::lower_bound(w.heaviest.begin(), w.heaviest.begin() + n, mean, std::greater<double>()) -
                          w.heaviest.begin());
  return (w.heaviest_prefix[j] + double(M - int(j)) * mean) / M;
}

std::vector<int> TpChoices(const std::vector<const TransformerSpec*>& specs, int max_tp) {
  std::vector<int> out;
  for (int t = 1; t <= max_tp; ++t) {
    bool ok = true;
    for (const TransformerSpec* s : specs)
      ok = ok && s->heads % t == 0 && s->width % t == 0 && s->mlp_hidden % t == 0;
    if (ok) out.push_back(t);
  }
  return out;
}

// The analytic estimate of one stage (per microbatch, its most loaded rank).
struct StageEst {
  double fwd = 0, bwd = 0, allreduce = 0, optimizer = 0, memory = 0;
  double Cost() const { return fwd + bwd; }
  // The all-reduce hides behind the last backward but for its last bucket.
  double Tail(int64_t buckets) const {
    return std::max(allreduce / double(std::max<int64_t>(1, buckets)), allreduce - bwd) + optimizer;
  }
};

struct Estimator {
  const PlanContext& ctx;
  const WorkStats* work;  // [kModules], of the whole batch (independent of M)
  int M = 1;

  // `parts`: (module, fraction of its work, layers, edges) run by one stage.
  struct Part {
    int module;
    double frac;
    int64_t layers;
    bool edges;
    double load;  // most loaded rank's forward seconds on one device for the whole module
  };
  StageEst Stage(const std::vector<Part>& parts, int tp, int dp, int pp, int inflight, bool recompute) const {
    StageEst e;
    const Link tp_link = GroupLink(ctx.cluster, 1, tp);
    double params = 0, memory = 0;
    MemoryOptions mo = ctx.memory;
    mo.recompute = recompute;
    for (const Part& p : parts) {
      const TransformerSpec& t = ctx.model.module[p.module];
      const WorkStats& w = work[p.module];
      const double tokens = std::max(w.tokens / (double(M) * dp), p.frac > 0 ? w.max_unit_tokens : 0.0);
      const double compute = p.load * p.frac / tp;
      const double comm = double(p.layers) * TpLayerCommSeconds(t, tokens, tp, tp_link);
      const double scale = ctx.cluster.shared_compute ? double(dp) * tp : 1.0;  // every rank on the same cores
      e.fwd += scale * compute + comm;
      e.bwd += scale * compute * (ctx.backward_ratio + (recompute ? 1.0 : 0.0)) + comm;
      params += StageParamsPerDevice(t, p.layers, p.edges, tp);
      memory += StageMemoryBytes(t, p.layers, p.edges, tp, dp, tokens, inflight, mo);
    }
    e.allreduce = GradAllReduceSeconds(ctx.cluster, params, tp, pp, dp);
    e.optimizer = OptimizerSeconds(ctx.cluster, params, dp, ctx.memory);
    e.memory = memory;
    return e;
  }
  bool Fits(double bytes) const { return bytes <= ctx.memory_headroom * ctx.cluster.memory_bytes; }
};

// A scored candidate; the heap keeps the best kTopK (largest score on top).
struct Scored {
  double score;
  Candidate cand;
  bool operator<(const Scored& o) const { return score < o.score; }
};
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) {}
  void Add(double score, const Candidate& c) {
    ++seen_;
    if (heap_.size() < k_) {
      heap_.push({score, c});
    } else if (score < heap_.top().score) {
      heap_.pop();
      heap_.push({score, c});
    }
  }
  std::vector<Candidate> Take() {
    std::vector<Scored> v;
    while (!heap_.empty()) v.push_back(heap_.top()), heap_.pop();
    std::sort(v.begin(), v.end(), [](const Scored& a, const Scored& b) { return a.score < b.score; });
    std::vector<Candidate> out;
    for (auto& s : v) out.push_back(s.cand);
    return out;
  }
  int64_t seen() const { return seen_; }

 private:
  size_t k_;
  int64_t seen_ = 0;
  std::priority_queue<Scored> heap_;
};

double ChainEstimate(const std::vector<StageEst>& stages, const std::vector<int64_t>& buckets, int M) {
  double sum = 0, worst = 0, tail = 0;
  for (size_t s = 0; s < stages.size(); ++s) {
    sum += stages[s].Cost();
    worst = std::max(worst, stages[s].Cost());
    tail = std::max(tail, stages[s].Tail(buckets[s]));
  }
  return sum + double(M - 1) * worst + tail;
}

// Best encoder (or generator) layout with at most n devices, for n = 0..N.
struct ModuleBest {
  std::vector<double> cost;  // per-microbatch F + B of the best layout
  std::vector<StageEst> est;
  std::vector<Layout> layout;
  std::vector<bool> recompute;
};

int DpCap(const PlanContext& ctx, int module, double units_per_mb) {
  int cap = int(std::max(1.0, std::ceil(units_per_mb)));
  if (ctx.max_ranks[module] > 0) cap = std::min(cap, ctx.max_ranks[module]);
  return cap;
}

ModuleBest BestSideModule(const Estimator& est, int module, int64_t N, int max_tp) {
  const PlanContext& ctx = est.ctx;
  const TransformerSpec& t = ctx.model.module[module];
  ModuleBest b;
  b.cost.assign(N + 1, kInf);
  b.est.assign(N + 1, StageEst{});
  b.layout.assign(N + 1, Layout{});
  b.recompute.assign(N + 1, false);
  const int cap = DpCap(ctx, module, est.work[module].units / est.M);
  const int warm_inflight = module == kEncoder ? est.M : 1;  // the encoder holds up to S forwards; bound by M
  // The runtime has no tensor-parallel generator.
  const int module_max_tp = ctx.runtime_only && module == kGenerator ? 1 : max_tp;
  for (int tp : TpChoices({&t}, module_max_tp)) {
    for (int dp = 1; dp <= cap && int64_t(tp) * dp <= N; ++dp) {
      if (ctx.max_ranks[module] > 0 && tp * dp > ctx.max_ranks[module]) break;
      const double load = MaxRankLoad(est.work[module], est.M, dp);
      for (bool rc : {false, true}) {
        StageEst e = est.Stage({{module, 1.0, t.layers, true, load}}, tp, dp, 1, warm_inflight, rc);
        if (!est.Fits(e.memory)) continue;
        const int64_t n = int64_t(tp) * dp;
        if (e.Cost() < b.cost[n]) b.cost[n] = e.Cost(), b.est[n] = e, b.layout[n] = {tp, 1, dp}, b.recompute[n] = rc;
        break;  // recomputation only when needed
      }
    }
  }
  for (int64_t n = 1; n <= N; ++n)  // at most n devices: keep the smaller layout on ties
    if (!(b.cost[n] < b.cost[n - 1])) b.cost[n] = b.cost[n - 1], b.est[n] = b.est[n - 1], b.layout[n] = b.layout[n - 1],
                                      b.recompute[n] = b.recompute[n - 1];
  return b;
}

// Splits R devices between encoder and generator, minimising the larger cost.
std::pair<int64_t, int64_t> SplitSides(const ModuleBest& e, const ModuleBest& g, int64_t R) {
  int64_t lo = 1, hi = R - 1;  // first ne with e(ne) <= g(R - ne)
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (e.cost[mid] <= g.cost[R - mid]) hi = mid;
    else lo = mid + 1;
  }
  int64_t best = lo;
  auto f = [&](int64_t ne) { return std::max(e.cost[ne], g.cost[R - ne]); };
  if (lo > 1 && f(lo - 1) < f(lo)) best = lo - 1;
  return {best, R - best};
}

// The LLM layer splits tried for pp stages: the even one, and up to two
// layers moved off the last stage (which also runs the output head), one
// each onto the first stages.
std::vector<std::vector<int64_t>> LlmSplits(int64_t layers, int pp) {
  std::vector<std::vector<int64_t>> out = {SplitLayers(layers, pp)};
  for (int64_t k = 1; k <= 2 && pp > 1; ++k) {
    std::vector<int64_t> s = out[0];
    if (s.back() - k < 1) break;
    s.back() -= k;
    for (int64_t i = 0; i < k; ++i) ++s[size_t(i % (pp - 1))];
    out.push_back(s);
  }
  return out;
}

void SearchDisaggregated(const PlanContext& ctx, const WorkStats work[kModules], int M, TopK* top) {
  const Estimator est{ctx, work, M};
  const int64_t N = ctx.cluster.shared_compute ? 3 * std::max<int64_t>(64, ctx.cluster.devices) : ctx.cluster.devices;
  const int max_tp = ctx.cluster.devices_per_node;
  const ModuleBest enc = BestSideModule(est, kEncoder, N, max_tp);
  const ModuleBest gen = BestSideModule(est, kGenerator, N, max_tp);
  const TransformerSpec& L = ctx.model.module[kLlm];
  const int64_t per_mb = int64_t(ctx.batch.size()) / M;
  const int dp_cap = int(ctx.max_ranks[kLlm] > 0 ? std::min<int64_t>(ctx.max_ranks[kLlm], per_mb) : per_mb);
  const int pp_max = int(std::min<int64_t>(L.layers, N));
  const double mean_tokens = est.work[kLlm].units > 0 ? est.work[kLlm].tokens / est.work[kLlm].units : 0.0;
  for (int tp : TpChoices({&L}, max_tp)) {
    for (int pp = 1; pp <= pp_max; ++pp) {
      for (const std::vector<int64_t>& split : LlmSplits(L.layers, pp)) {
        for (int dp = 1; dp <= dp_cap; ++dp) {
          const int64_t nl = int64_t(tp) * pp * dp;
          if (ctx.max_ranks[kLlm] > 0 && nl > ctx.max_ranks[kLlm]) break;
          if (N - nl < 2) break;
          const double load = MaxRankLoad(est.work[kLlm], M, dp);
          // Each stage: its layers' share of the work (the last also the
          // head), its edges' memory, its in-flight microbatches.
          auto stages = [&](bool rc, bool* fits) {
            std::vector<StageEst> out;
            *fits = true;
            for (int j = 0; j < pp; ++j) {
              const double frac = LlmStageShare(L, mean_tokens, split[size_t(j)], j == pp - 1);
              out.push_back(est.Stage({{kLlm, frac, split[size_t(j)], j == 0 || j == pp - 1, load}}, tp, dp, pp,
                                      std::min(M, pp + 1 - j), rc));
              *fits = *fits && est.Fits(out.back().memory);
            }
            return out;
          };
          bool rc = false, fits = false;
          std::vector<StageEst> llm = stages(rc, &fits);
          if (!fits) {
            rc = true;
            llm = stages(rc, &fits);
            if (!fits) continue;
          }
          auto [ne, ng] = SplitSides(enc, gen, N - nl);
          if (enc.cost[ne] == kInf || gen.cost[ng] == kInf) continue;
          std::vector<StageEst> chain = {enc.est[ne]};
          std::vector<int64_t> buckets = {ctx.model.module[kEncoder].layers};
          for (int j = 0; j < pp; ++j) chain.push_back(llm[size_t(j)]), buckets.push_back(split[size_t(j)]);
          chain.push_back(gen.est[ng]);
          buckets.push_back(ctx.model.module[kGenerator].layers);
          Candidate c;
          c.layout[kEncoder] = enc.layout[ne];
          c.layout[kLlm] = {tp, pp, dp};
          c.layout[kGenerator] = gen.layout[ng];
          c.llm_stage_layers = split;
          c.microbatches = M;
          c.recompute = rc || enc.recompute[ne] || gen.recompute[ng];
          top->Add(ChainEstimate(chain, buckets, M), c);
        }
      }
    }
  }
}

// Per (M, dp): the baseline's in-order loads, mean over microbatches of the
// most loaded rank per module. Prefix sums over the batch make one (M, dp)
// cost O(M x dp), not O(batch).
struct InOrderLoads {
  double enc = 0, llm = 0, gen = 0;
};
struct BatchPrefix {
  std::vector<double> enc, llm, gen;  // [i] = cost of samples 0..i-1
  explicit BatchPrefix(const PlanContext& ctx) {
    const size_t n = ctx.batch.size();
    enc.assign(n + 1, 0), llm.assign(n + 1, 0), gen.assign(n + 1, 0);
    for (size_t i = 0; i < n; ++i) {
      const reorder::WorkSample& s = ctx.batch[i];
      enc[i + 1] = enc[i] + s.images * ctx.unit_seconds.EncoderImage(s.image_tokens);
      llm[i + 1] = llm[i] + ctx.unit_seconds.LlmSample(s.llm_tokens());
      gen[i + 1] = gen[i] + s.gen_images * ctx.unit_seconds.GeneratorTarget();
    }
  }
};
InOrderLoads InOrder(const BatchPrefix& p, int64_t n, int M, int dp) {
  const int64_t per_mb = n / M;
  InOrderLoads out;
  for (int k = 0; k < M; ++k) {
    double e = 0, l = 0, g = 0;
    for (int r = 0; r < dp; ++r) {
      const SampleRange range = InOrderRankSamples(per_mb, dp, r);
      const int64_t lo = k * per_mb + range.lo, hi = k * per_mb + range.hi;
      e = std::max(e, p.enc[hi] - p.enc[lo]);
      l = std::max(l, p.llm[hi] - p.llm[lo]);
      g = std::max(g, p.gen[hi] - p.gen[lo]);
    }
    out.enc += e / M, out.llm += l / M, out.gen += g / M;
  }
  return out;
}

// The baseline's layer split: uniform, or the first and last stages lighter
// so that they absorb the encoder and the generator (Megatron's
// --decoder-first/last-pipeline-num-layers).
std::vector<std::vector<int64_t>> BaselineSplits(int64_t L, int pp, double enc, double llm, double gen) {
  std::vector<std::vector<int64_t>> out = {SplitLayers(L, pp)};
  if (pp == 1) return out;
  const double per_layer = llm / double(L), target = (enc + llm + gen) / pp;
  auto layers_for = [&](double other) {
    return int64_t(std::llround(std::clamp((target - other) / per_layer, 0.0, double(L))));
  };
  int64_t a = layers_for(enc), b = layers_for(gen);
  if (pp == 2) {
    a = std::clamp<int64_t>(a, 0, L);
    out.push_back({a, L - a});
    return out;
  }
  const int64_t middle = L - a - b;
  if (middle < pp - 2) return out;
  std::vector<int64_t> s = {a};
  for (int64_t x : SplitLayers(middle, pp - 2)) s.push_back(x);
  s.push_back(b);
  out.push_back(s);
  return out;
}

void SearchBaseline(const PlanContext& ctx, const WorkStats work[kModules], const BatchPrefix& prefix, int M,
                    TopK* top) {
  const Estimator est{ctx, work, M};
  const ModelSpec& mod = ctx.model;
  const TransformerSpec& L = mod.module[kLlm];
  const int64_t N = ctx.cluster.shared_compute ? std::max<int64_t>(1, ctx.cluster.devices) : ctx.cluster.devices;
  const int64_t per_mb = int64_t(ctx.batch.size()) / M;
  const int max_tp = ctx.runtime_only ? 1 : ctx.cluster.devices_per_node;
  const int pp_max = ctx.runtime_only ? 1 : int(std::min<int64_t>(L.layers, N));
  std::map<int, InOrderLoads> cache;
  for (int tp : TpChoices({&mod.module[kEncoder], &L, &mod.module[kGenerator]}, max_tp)) {
    for (int pp = 1; pp <= pp_max; ++pp) {
      for (int dp = 1; dp <= per_mb && int64_t(tp) * pp * dp <= N; ++dp) {
        auto it = cache.find(dp);
        if (it == cache.end()) it = cache.emplace(dp, InOrder(prefix, int64_t(ctx.batch.size()), M, dp)).first;
        const InOrderLoads& ld = it->second;
        for (const std::vector<int64_t>& split : BaselineSplits(L.layers, pp, ld.enc, ld.llm, ld.gen)) {
          for (bool rc : {false, true}) {
            std::vector<StageEst> chain;
            std::vector<int64_t> buckets;
            bool fits = true;
            for (int j = 0; j < pp; ++j) {
              std::vector<Estimator::Part> parts;
              if (j == 0) parts.push_back({kEncoder, 1.0, mod.module[kEncoder].layers, true, ld.enc});
              parts.push_back({kLlm, double(split[j]) / double(L.layers), split[j], j == 0 || j == pp - 1, ld.llm});
              if (j == pp - 1) parts.push_back({kGenerator, 1.0, mod.module[kGenerator].layers, true, ld.gen});
              StageEst s = est.Stage(parts, tp, dp, pp, std::min(M, pp - j), rc);
              fits = fits && est.Fits(s.memory);
              int64_t b = 0;
              for (auto& p : parts) b += p.layers;
              chain.push_back(s), buckets.push_back(b);
            }
            if (!fits) continue;
            Candidate c;
            c.colocated = true;
            c.layout[kEncoder] = {tp, 1, dp};
            c.layout[kLlm] = {tp, pp, dp};
            c.layout[kGenerator] = {tp, 1, dp};
            c.llm_stage_layers = split;
            c.microbatches = M;
            c.recompute = rc;
            top->Add(ChainEstimate(chain, buckets, M), c);
            break;
          }
        }
      }
    }
  }
}

struct Best {
  Candidate cand;
  Prediction pred;
  bool found = false;
  double closest_memory = kInf;  // smallest over-the-limit memory seen, for the error
};

void SimulateAll(const PlanContext& ctx, const std::vector<Candidate>& cands, Best* best, int64_t* simulated) {
  const double limit = ctx.memory_headroom * ctx.cluster.memory_bytes;
  for (const Candidate& c : cands) {
    StatusOr<Prediction> p = Predict(ctx, c);
    ++*simulated;
    if (!p.ok()) continue;
    const double mem = std::max({p->memory_bytes[0], p->memory_bytes[1], p->memory_bytes[2]});
    if (mem > limit) {
      best->closest_memory = std::min(best->closest_memory, mem);
      continue;
    }
    if (!best->found || p->step_seconds < best->pred.step_seconds) best->cand = c, best->pred = *p, best->found = true;
  }
}

std::string GiB(double b) { return std::to_string(int64_t(std::llround(b / double(1ll << 30)))) + " GiB"; }

}  // namespace

std::vector<int> DefaultMicrobatchChoices(int64_t n) {
  std::vector<int> out;
  for (int m = 1; m <= 64 && m <= n; ++m)
    if (n % m == 0) out.push_back(m);
  return out;
}

StatusOr<PlanResult> PlanLayouts(const PlanContext& ctx) {
  const auto t0 = std::chrono::steady_clock::now();
  if (ctx.batch.empty()) return Status::InvalidArgument("the batch has no samples");
  std::vector<int> mbs = ctx.microbatch_choices.empty() ? DefaultMicrobatchChoices(int64_t(ctx.batch.size()))
                                                        : ctx.microbatch_choices;
  PlanResult res;
  Best braid_best, base_best;
  // One ranking per space across every microbatch count: the estimate
  // compares them; the best kTopK of each are simulated.
  TopK top_braid(kExhaustive), top_base(kExhaustive);
  const WorkStats work[kModules] = {Stats(ctx, kEncoder), Stats(ctx, kLlm), Stats(ctx, kGenerator)};
  const BatchPrefix prefix(ctx);
  for (int M : mbs) {
    if (M < 1 || int64_t(ctx.batch.size()) % M != 0)
      return Status::InvalidArgument("microbatches " + std::to_string(M) + " does not divide the batch of " +
                                     std::to_string(ctx.batch.size()));
    SearchDisaggregated(ctx, work, M, &top_braid);
    SearchBaseline(ctx, work, prefix, M, &top_base);
  }
  res.estimated = top_braid.seen() + top_base.seen();
  for (auto [top, best] : {std::pair{&top_braid, &braid_best}, std::pair{&top_base, &base_best}}) {
    const bool whole = top->seen() <= int64_t(kExhaustive);
    std::vector<Candidate> c = top->Take();
    if (!whole) c.resize(std::min<size_t>(c.size(), kTopK));
    SimulateAll(ctx, c, best, &res.simulated);
  }
  if (!base_best.found && !braid_best.found) {
    const double closest = std::min(braid_best.closest_memory, base_best.closest_memory);
    return Status::FailedPrecondition(
        "no layout fits: " + (closest < kInf ? "the smallest needs " + GiB(closest) + " per device, the limit is " +
                                                   GiB(ctx.memory_headroom * ctx.cluster.memory_bytes)
                                             : std::string("no candidate is valid for this model and budget")));
  }
  if (base_best.found) res.baseline = base_best.cand, res.baseline_predicted = base_best.pred;
  const bool fallback = !ctx.runtime_only && base_best.found &&
                        (!braid_best.found || base_best.pred.step_seconds < braid_best.pred.step_seconds);
  if (braid_best.found && !fallback) {
    res.plan = braid_best.cand, res.predicted = braid_best.pred;
  } else if (fallback) {
    res.plan = base_best.cand, res.predicted = base_best.pred;
  } else {
    return Status::FailedPrecondition("no disaggregated layout fits the runtime's restrictions");
  }
  if (base_best.found) res.speedup = res.baseline_predicted.step_seconds / res.predicted.step_seconds;
  res.solve_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace braid::plan
