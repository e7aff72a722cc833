#include "common/reorder/policies.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "common/base/check.h"
#include "common/reorder/balance.h"
#include "common/reorder/in_order_router.h"
#include "common/schedule/pipeline.h"

namespace braid::reorder {

const std::vector<Policy>& AllPolicies() {
  static const std::vector<Policy> all = {Policy::kSequential, Policy::kRandom, Policy::kLptPerSample,
                                          Policy::kBalanced, Policy::kBalancedOrdered};
  return all;
}

std::string PolicyName(Policy p) {
  switch (p) {
    case Policy::kSequential: return "sequential";
    case Policy::kRandom: return "random";
    case Policy::kLptPerSample: return "lpt_per_sample";
    case Policy::kBalanced: return "balanced";
    case Policy::kBalancedOrdered: return "balanced+ordered";
  }
  return "?";
}

StatusOr<Policy> ParsePolicy(const std::string& name) {
  std::string known;
  for (Policy p : AllPolicies()) {
    if (PolicyName(p) == name) return p;
    known += (known.empty() ? "" : ", ") + PolicyName(p);
  }
  return Status::InvalidArgument("unknown policy '" + name + "' (" + known + ")");
}

StatusOr<Policy> PolicyForDataReorder(const std::string& data_reorder) {
  return ParsePolicy(data_reorder == "none" ? "sequential" : data_reorder);
}

namespace {

std::vector<std::vector<int>> ContiguousMicrobatches(const std::vector<int>& order, int M) {
  std::vector<std::vector<int>> mbs(static_cast<size_t>(M));
  for (size_t i = 0; i < order.size(); ++i) mbs[size_t(ContiguousRank(int64_t(i), int64_t(order.size()), M))].push_back(order[i]);
  return mbs;
}

// Sequential units inside a microbatch: each module's units in microbatch
// order, spread contiguously by count.
void SpreadByCount(const std::vector<WorkSample>& batch, const Layout& l, BatchPlan::Microbatch* mb) {
  const int64_t n = int64_t(mb->samples.size());
  int64_t images = 0, targets = 0;
  for (int s : mb->samples) images += batch[size_t(s)].images, targets += batch[size_t(s)].gen_images;
  int64_t ii = 0, gi = 0;
  for (int64_t k = 0; k < n; ++k) {
    const WorkSample& w = batch[size_t(mb->samples[size_t(k)])];
    mb->llm_rank.push_back(ContiguousRank(k, n, l.llm_dp));
    mb->encoder_rank.emplace_back();
    for (int32_t j = 0; j < w.images; ++j) mb->encoder_rank.back().push_back(ContiguousRank(ii++, images, l.encoder_dp));
    mb->generator_rank.emplace_back();
    for (int32_t j = 0; j < w.gen_images; ++j)
      mb->generator_rank.back().push_back(ContiguousRank(gi++, targets, l.generator_dp));
  }
}

// Per-sample LPT with equal sample counts per rank: heaviest sample first
// onto the least loaded rank that still has room (ceil(n / k) samples),
// i.e. LPT under a memory cap where every sample uses one slot.
std::vector<int32_t> LptEqualCounts(const std::vector<double>& w, int k) {
  const int64_t n = int64_t(w.size()), room = (n + k - 1) / k;
  return LptPartition(w, k, MemoryCap{std::vector<int64_t>(size_t(n), 1), room}).rank_of;
}

double EncoderCost(const WorkSample& w, const CostModel& c) { return w.images * c.EncoderImage(w.image_tokens); }
double GeneratorCost(const WorkSample& w, const CostModel& c) { return w.gen_images * c.GeneratorTarget(); }

void LptPerSample(const std::vector<WorkSample>& batch, const PlanOptions& o, BatchPlan::Microbatch* mb) {
  std::vector<double> enc, llm, gen;
  for (int s : mb->samples) {
    const WorkSample& w = batch[size_t(s)];
    enc.push_back(EncoderCost(w, o.cost));
    llm.push_back(o.cost.LlmSample(w.llm_tokens()));
    gen.push_back(GeneratorCost(w, o.cost));
  }
  const std::vector<int32_t> er = LptEqualCounts(enc, o.layout.encoder_dp);
  mb->llm_rank = LptEqualCounts(llm, o.layout.llm_dp);
  const std::vector<int32_t> gr = LptEqualCounts(gen, o.layout.generator_dp);
  for (size_t k = 0; k < mb->samples.size(); ++k) {
    const WorkSample& w = batch[size_t(mb->samples[k])];
    mb->encoder_rank.emplace_back(size_t(w.images), er[k]);
    mb->generator_rank.emplace_back(size_t(w.gen_images), gr[k]);
  }
}

// Units at their own granularity, balanced per module.
void BalanceUnits(const std::vector<WorkSample>& batch, const PlanOptions& o, BatchPlan::Microbatch* mb) {
  std::vector<double> enc, llm, gen;
  MemoryCap cap;
  cap.cap = o.llm_token_cap;
  for (int s : mb->samples) {
    const WorkSample& w = batch[size_t(s)];
    for (int32_t j = 0; j < w.images; ++j) enc.push_back(o.cost.EncoderImage(w.image_tokens));
    for (int32_t j = 0; j < w.gen_images; ++j) gen.push_back(o.cost.GeneratorTarget());
    llm.push_back(o.cost.LlmSample(w.llm_tokens()));
    cap.mem.push_back(w.llm_tokens());
  }
  const Partition pe = BalancedPartition(enc, o.layout.encoder_dp);
  const Partition pl = BalancedPartition(llm, o.layout.llm_dp, cap);
  const Partition pg = BalancedPartition(gen, o.layout.generator_dp);
  size_t ie = 0, ig = 0;
  for (size_t k = 0; k < mb->samples.size(); ++k) {
    const WorkSample& w = batch[size_t(mb->samples[k])];
    mb->llm_rank.push_back(pl.rank_of[k]);
    mb->encoder_rank.emplace_back();
    for (int32_t j = 0; j < w.images; ++j) mb->encoder_rank.back().push_back(pe.rank_of[ie++]);
    mb->generator_rank.emplace_back();
    for (int32_t j = 0; j < w.gen_images; ++j) mb->generator_rank.back().push_back(pg.rank_of[ig++]);
  }
}

// Microbatches balanced by the time a sample adds to its microbatch's
// stages (each module's cost over its DP size), every microbatch non-empty;
// samples keep batch order inside a microbatch.
std::vector<std::vector<int>> BalancedMicrobatches(const std::vector<WorkSample>& batch, const PlanOptions& o) {
  std::vector<double> w;
  for (const WorkSample& s : batch)
    w.push_back(EncoderCost(s, o.cost) / o.layout.encoder_dp + o.cost.LlmSample(s.llm_tokens()) / o.layout.llm_dp +
                GeneratorCost(s, o.cost) / o.layout.generator_dp);
  const Partition p = LptPartition(w, o.microbatches);
  std::vector<std::vector<int>> mbs(static_cast<size_t>(o.microbatches));
  for (size_t i = 0; i < batch.size(); ++i) mbs[size_t(p.rank_of[i])].push_back(int(i));
  for (auto& mb : mbs) {  // zero-cost samples can leave one empty: take from the fullest
    if (!mb.empty()) continue;
    auto& full = *std::max_element(mbs.begin(), mbs.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
    mb.push_back(full.back());
    full.pop_back();
  }
  for (auto& mb : mbs) std::sort(mb.begin(), mb.end());
  return mbs;
}

struct ModuleLoads {
  std::vector<double> rank_load[3];
  std::vector<double> units[3];
};

ModuleLoads LoadsOf(const std::vector<WorkSample>& batch, const BatchPlan::Microbatch& mb, const PlanOptions& o) {
  ModuleLoads m;
  m.rank_load[0].assign(size_t(o.layout.encoder_dp), 0.0);
  m.rank_load[1].assign(size_t(o.layout.llm_dp), 0.0);
  m.rank_load[2].assign(size_t(o.layout.generator_dp), 0.0);
  for (size_t k = 0; k < mb.samples.size(); ++k) {
    const WorkSample& w = batch[size_t(mb.samples[k])];
    const double e = o.cost.EncoderImage(w.image_tokens), l = o.cost.LlmSample(w.llm_tokens()),
                 g = o.cost.GeneratorTarget();
    for (int32_t r : mb.encoder_rank[k]) m.rank_load[0][size_t(r)] += e, m.units[0].push_back(e);
    m.rank_load[1][size_t(mb.llm_rank[k])] += l;
    m.units[1].push_back(l);
    for (int32_t r : mb.generator_rank[k]) m.rank_load[2][size_t(r)] += g, m.units[2].push_back(g);
  }
  return m;
}

schedule::MicrobatchCost StageCosts(const ModuleLoads& m, const CostModel& c) {
  auto stage = [&](int i) {
    const double f = *std::max_element(m.rank_load[i].begin(), m.rank_load[i].end());
    return schedule::StageCost{f, c.backward_ratio * f};
  };
  return {stage(0), stage(1), stage(2)};
}

}  // namespace

BatchPlan PlanBatch(const std::vector<WorkSample>& batch, Policy policy, const PlanOptions& o) {
  BRAID_CHECK(o.microbatches >= 1 && size_t(o.microbatches) <= batch.size());
  BRAID_CHECK(o.layout.encoder_dp >= 1 && o.layout.llm_dp >= 1 && o.layout.generator_dp >= 1);
  std::vector<int> order(batch.size());
  std::iota(order.begin(), order.end(), 0);
  if (policy == Policy::kRandom) {  // Fisher–Yates on a seeded mt19937_64 (portable)
    std::mt19937_64 rng(o.seed);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[size_t(rng() % i)]);
  }
  const bool balanced = policy == Policy::kBalanced || policy == Policy::kBalancedOrdered;
  const std::vector<std::vector<int>> groups =
      balanced ? BalancedMicrobatches(batch, o) : ContiguousMicrobatches(order, o.microbatches);
  BatchPlan plan;
  for (const auto& g : groups) {
    BatchPlan::Microbatch mb;
    mb.samples = g;
    if (balanced) BalanceUnits(batch, o, &mb);
    else if (policy == Policy::kLptPerSample) LptPerSample(batch, o, &mb);
    else SpreadByCount(batch, o.layout, &mb);
    plan.microbatches.push_back(std::move(mb));
  }
  if (policy == Policy::kBalancedOrdered) {
    std::vector<schedule::MicrobatchCost> costs;
    for (const auto& mb : plan.microbatches) costs.push_back(StageCosts(LoadsOf(batch, mb, o), o.cost));
    const std::vector<int> perm = schedule::OrderMicrobatches(costs);
    std::vector<BatchPlan::Microbatch> ordered;
    for (int i : perm) ordered.push_back(std::move(plan.microbatches[size_t(i)]));
    plan.microbatches = std::move(ordered);
  }
  return plan;
}

namespace {

// The per-microbatch part of EvaluatePlan; the bounds only when asked for.
PlanStats Evaluate(const std::vector<WorkSample>& batch, const BatchPlan& plan, const PlanOptions& o, bool bounds) {
  PlanStats st;
  std::vector<schedule::MicrobatchCost> costs;
  double imb[3] = {0, 0, 0}, vsb[3] = {0, 0, 0};
  for (const auto& mb : plan.microbatches) {
    const ModuleLoads m = LoadsOf(batch, mb, o);
    for (int i = 0; i < 3; ++i) {
      const auto& L = m.rank_load[i];
      const double mx = *std::max_element(L.begin(), L.end());
      const double mean = std::accumulate(L.begin(), L.end(), 0.0) / double(L.size());
      imb[i] += mean > 0 ? mx / mean : 1.0;
      if (!bounds) continue;
      const double lb = PartitionLowerBound(m.units[i], int(L.size()));
      vsb[i] += lb > 0 ? mx / lb : 1.0;
    }
    if (bounds) costs.push_back(StageCosts(m, o.cost));
  }
  const double n = double(std::max<size_t>(plan.microbatches.size(), 1));
  for (int i = 0; i < 3; ++i) st.imbalance[i] = imb[i] / n, st.imbalance_vs_bound[i] = vsb[i] / n;
  if (bounds) {
    st.makespan = schedule::OneFOneBMakespan(costs);
    st.makespan_bound = schedule::MakespanLowerBound(costs);
  }
  return st;
}

}  // namespace

PlanStats EvaluatePlan(const std::vector<WorkSample>& batch, const BatchPlan& plan, const PlanOptions& o) {
  return Evaluate(batch, plan, o, true);
}

void PlanImbalance(const std::vector<WorkSample>& batch, const BatchPlan& plan, const PlanOptions& o,
                   double imbalance[3]) {
  const PlanStats st = Evaluate(batch, plan, o, false);
  for (int i = 0; i < 3; ++i) imbalance[i] = st.imbalance[i];
}

Status CheckBatchPlan(const std::vector<WorkSample>& batch, const BatchPlan& plan, const PlanOptions& o) {
  std::vector<int> seen(batch.size(), 0);
  for (size_t m = 0; m < plan.microbatches.size(); ++m) {
    const auto& mb = plan.microbatches[m];
    const std::string at = "microbatch " + std::to_string(m);
    if (mb.samples.empty()) return Status::InvalidArgument(at + " is empty");
    if (mb.llm_rank.size() != mb.samples.size() || mb.encoder_rank.size() != mb.samples.size() ||
        mb.generator_rank.size() != mb.samples.size())
      return Status::InvalidArgument(at + ": rank lists do not match its samples");
    for (size_t k = 0; k < mb.samples.size(); ++k) {
      const int s = mb.samples[k];
      if (s < 0 || size_t(s) >= batch.size()) return Status::InvalidArgument(at + ": sample index out of range");
      ++seen[size_t(s)];
      const WorkSample& w = batch[size_t(s)];
      if (mb.llm_rank[k] < 0 || mb.llm_rank[k] >= o.layout.llm_dp) return Status::InvalidArgument(at + ": llm rank out of range");
      if (int64_t(mb.encoder_rank[k].size()) != w.images || int64_t(mb.generator_rank[k].size()) != w.gen_images)
        return Status::InvalidArgument(at + ": sample " + std::to_string(w.id) + " has the wrong number of units");
      for (int32_t r : mb.encoder_rank[k])
        if (r < 0 || r >= o.layout.encoder_dp) return Status::InvalidArgument(at + ": encoder rank out of range");
      for (int32_t r : mb.generator_rank[k])
        if (r < 0 || r >= o.layout.generator_dp) return Status::InvalidArgument(at + ": generator rank out of range");
    }
  }
  for (size_t i = 0; i < batch.size(); ++i)
    if (seen[i] != 1)
      return Status::InvalidArgument("sample " + std::to_string(batch[i].id) + " planned " + std::to_string(seen[i]) +
                                     " times");
  return Status::Ok();
}

}  // namespace braid::reorder
