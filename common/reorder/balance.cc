#include "common/reorder/balance.h"

#include <algorithm>
#include <numeric>
#include <queue>

#include "common/base/check.h"

namespace braid::reorder {

double Partition::max_load() const { return load.empty() ? 0.0 : *std::max_element(load.begin(), load.end()); }

namespace {

// Units by decreasing weight; ties by index (determinism).
std::vector<int> HeaviestFirst(const std::vector<double>& w) {
  std::vector<int> order(w.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return w[size_t(a)] > w[size_t(b)]; });
  return order;
}

struct MemUse {
  const MemoryCap& cap;
  std::vector<int64_t> used;
  MemUse(const MemoryCap& c, int ranks) : cap(c), used(size_t(ranks), 0) {}
  bool Fits(int unit, int rank) const {
    return !cap.active() || used[size_t(rank)] + cap.mem[size_t(unit)] <= cap.cap;
  }
  void Add(int unit, int rank, int sign) {
    if (cap.active()) used[size_t(rank)] += sign * cap.mem[size_t(unit)];
  }
};

bool Respects(const Partition& p, const MemoryCap& cap, int ranks) {
  if (!cap.active()) return true;
  std::vector<int64_t> used(size_t(ranks), 0);
  for (size_t i = 0; i < p.rank_of.size(); ++i) used[size_t(p.rank_of[i])] += cap.mem[i];
  return std::all_of(used.begin(), used.end(), [&](int64_t u) { return u <= cap.cap; });
}

// Karmarkar–Karp differencing for k ranks: every unit starts as a k-tuple of
// subsets (itself and k-1 empty ones); the two tuples with the largest spread
// merge, largest subset of one with smallest of the other, until one remains.
Partition KarmarkarKarp(const std::vector<double>& w, int ranks) {
  struct Tuple {
    std::vector<double> sums;               // descending
    std::vector<std::vector<int>> members;  // aligned with sums
    double spread() const { return sums.front() - sums.back(); }
  };
  auto cmp = [](const Tuple* a, const Tuple* b) { return a->spread() < b->spread(); };
  std::vector<Tuple> pool(w.size());
  std::priority_queue<Tuple*, std::vector<Tuple*>, decltype(cmp)> heap(cmp);
  for (size_t i = 0; i < w.size(); ++i) {
    pool[i].sums.assign(size_t(ranks), 0.0);
    pool[i].members.assign(size_t(ranks), {});
    pool[i].sums[0] = w[i];
    pool[i].members[0].push_back(int(i));
    heap.push(&pool[i]);
  }
  Partition p;
  p.rank_of.assign(w.size(), 0);
  p.load.assign(size_t(ranks), 0.0);
  if (heap.empty()) return p;
  while (heap.size() > 1) {
    Tuple* a = heap.top();
    heap.pop();
    Tuple* b = heap.top();
    heap.pop();
    // a's largest with b's smallest, and so on.
    std::vector<std::pair<double, std::vector<int>>> merged(static_cast<size_t>(ranks));
    for (int r = 0; r < ranks; ++r) {
      const size_t ra = size_t(r), rb = size_t(ranks - 1 - r);
      merged[ra].first = a->sums[ra] + b->sums[rb];
      merged[ra].second = std::move(a->members[ra]);
      merged[ra].second.insert(merged[ra].second.end(), b->members[rb].begin(), b->members[rb].end());
    }
    std::stable_sort(merged.begin(), merged.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    for (int r = 0; r < ranks; ++r) {
      a->sums[size_t(r)] = merged[size_t(r)].first;
      a->members[size_t(r)] = std::move(merged[size_t(r)].second);
    }
    b->members.clear();
    heap.push(a);
  }
  const Tuple* last = heap.top();
  for (int r = 0; r < ranks; ++r) {
    for (int u : last->members[size_t(r)]) p.rank_of[size_t(u)] = r;
    p.load[size_t(r)] = last->sums[size_t(r)];
  }
  return p;
}

// Moves and swaps between the most loaded rank and the least loaded ones
// while they strictly lower that rank's load without raising the partner
// above it.
void Refine(const std::vector<double>& w, int ranks, const MemoryCap& cap, double good_enough, Partition* p) {
  std::vector<std::vector<int>> units(static_cast<size_t>(ranks));
  for (size_t i = 0; i < p->rank_of.size(); ++i) units[size_t(p->rank_of[i])].push_back(int(i));
  MemUse mem(cap, ranks);
  for (size_t i = 0; i < p->rank_of.size(); ++i) mem.Add(int(i), p->rank_of[i], +1);
  const int limit = 8 * int(w.size()) + 16;
  for (int iter = 0; iter < limit; ++iter) {
    const int r = int(std::max_element(p->load.begin(), p->load.end()) - p->load.begin());
    const double top = p->load[size_t(r)];
    if (top <= good_enough) return;
    // Best move: the one leaving the smaller of the two new maxima.
    double best = top;
    int bu = -1, bv = -1, bt = -1;
    // Partners: the few least loaded ranks (where a move or swap can help
    // most); keeps an iteration O(units of r x units of 4 ranks).
    std::vector<int> partners(static_cast<size_t>(ranks));
    std::iota(partners.begin(), partners.end(), 0);
    const size_t want = std::min<size_t>(size_t(ranks), 5);
    std::partial_sort(partners.begin(), partners.begin() + long(want), partners.end(),
                      [&](int a, int b) { return p->load[size_t(a)] < p->load[size_t(b)]; });
    partners.resize(want);
    for (int t : partners) {
      if (t == r) continue;
      for (int u : units[size_t(r)]) {
        const double wu = w[size_t(u)];
        // move u: r -> t
        if (mem.Fits(u, t)) {
          const double m = std::max(top - wu, p->load[size_t(t)] + wu);
          if (m < best - 1e-12 * top) best = m, bu = u, bv = -1, bt = t;
        }
        // swap u (on r) with v (on t), w[v] < w[u]
        for (int v : units[size_t(t)]) {
          const double d = wu - w[size_t(v)];
          if (d <= 0) continue;
          const double m = std::max(top - d, p->load[size_t(t)] + d);
          if (m >= best - 1e-12 * top) continue;
          if (cap.active()) {
            const int64_t du = cap.mem[size_t(u)], dv = cap.mem[size_t(v)];
            if (mem.used[size_t(t)] - dv + du > cap.cap || mem.used[size_t(r)] - du + dv > cap.cap) continue;
          }
          best = m, bu = u, bv = v, bt = t;
        }
      }
    }
    if (bu < 0) return;
    auto move = [&](int unit, int from, int to) {
      auto& f = units[size_t(from)];
      f.erase(std::find(f.begin(), f.end(), unit));
      units[size_t(to)].push_back(unit);
      p->rank_of[size_t(unit)] = to;
      p->load[size_t(from)] -= w[size_t(unit)];
      p->load[size_t(to)] += w[size_t(unit)];
      mem.Add(unit, from, -1);
      mem.Add(unit, to, +1);
    };
    move(bu, r, bt);
    if (bv >= 0) move(bv, bt, r);
  }
}

}  // namespace

Partition LptPartition(const std::vector<double>& w, int ranks, const MemoryCap& cap) {
  BRAID_CHECK(ranks >= 1);
  BRAID_CHECK(!cap.active() || cap.mem.size() == w.size());
  Partition p;
  p.rank_of.assign(w.size(), 0);
  p.load.assign(size_t(ranks), 0.0);
  MemUse mem(cap, ranks);
  for (int u : HeaviestFirst(w)) {
    int best = -1;
    for (int r = 0; r < ranks; ++r)
      if (mem.Fits(u, r) && (best < 0 || p.load[size_t(r)] < p.load[size_t(best)])) best = r;
    if (best < 0)  // nothing fits: the rank with the most memory left
      best = int(std::min_element(mem.used.begin(), mem.used.end()) - mem.used.begin());
    p.rank_of[size_t(u)] = best;
    p.load[size_t(best)] += w[size_t(u)];
    mem.Add(u, best, +1);
  }
  return p;
}

Partition BalancedPartition(const std::vector<double>& w, int ranks, const MemoryCap& cap) {
  Partition best = LptPartition(w, ranks, cap);
  if (ranks == 1 || w.size() <= 1) return best;
  // Stop as soon as a partition is within 0.1% of the lower bound: nothing
  // can do much better (common with many small or equal units).
  const double bound = PartitionLowerBound(w, ranks) * (1 + 1e-3);
  if (best.max_load() <= bound) return best;
  // Karmarkar–Karp pays off with few units per rank (where LPT's last
  // placements are coarse); with many, LPT plus the refinement is as good
  // and KK's tuple merging dominates the solve time.
  if (w.size() < 8 * size_t(ranks)) {
    Partition kk = KarmarkarKarp(w, ranks);
    if (Respects(kk, cap, ranks) && kk.max_load() < best.max_load()) best = std::move(kk);
    if (best.max_load() <= bound) return best;
  }
  Refine(w, ranks, cap, bound, &best);
  return best;
}

double PartitionLowerBound(const std::vector<double>& w, int ranks) {
  BRAID_CHECK(ranks >= 1);
  if (w.empty()) return 0.0;
  std::vector<double> d(w);
  std::sort(d.begin(), d.end(), std::greater<double>());
  // prefix[i] = d[0] + ... + d[i-1], so each window below costs O(1).
  std::vector<double> prefix(d.size() + 1, 0.0);
  for (size_t i = 0; i < d.size(); ++i) prefix[i + 1] = prefix[i] + d[i];
  double bound = prefix.back() / double(ranks);
  // Among the j*k+1 heaviest some rank holds j+1: at least the j+1 smallest
  // of them, d[top-j-1 .. top-1].
  for (size_t j = 0; j * size_t(ranks) + 1 <= d.size(); ++j) {
    const size_t top = j * size_t(ranks) + 1;
    bound = std::max(bound, prefix[top] - prefix[top - (j + 1)]);
  }
  return bound;
}

}  // namespace braid::reorder
