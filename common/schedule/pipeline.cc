#include "common/schedule/pipeline.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>

#include "common/base/check.h"

namespace braid::schedule {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The five operations of a microbatch, in dependency order; the generator's
// forward and backward are the single operation kGen.
enum Op : uint8_t { kEncF = 0, kLlmF = 1, kGen = 2, kLlmB = 3, kEncB = 4, kNumOps = 5 };
constexpr int kNumStages = 3;  // encoder 0, LLM 1, generator 2

double OpCost(const MicrobatchCost& c, int op) {
  switch (op) {
    case kEncF:
      return c.encoder.fwd;
    case kLlmF:
      return c.llm.fwd;
    case kGen:
      return c.generator.fwd + c.generator.bwd;
    case kLlmB:
      return c.llm.bwd;
    default:
      return c.encoder.bwd;
  }
}

// Costs as a flat table: costs[mb * kNumOps + op].
std::vector<double> CostTable(const std::vector<MicrobatchCost>& mbs) {
  std::vector<double> t(mbs.size() * kNumOps);
  for (size_t m = 0; m < mbs.size(); ++m)
    for (int op = 0; op < kNumOps; ++op) t[m * kNumOps + size_t(op)] = OpCost(mbs[m], op);
  return t;
}

// One stage's operations in execution order, as (op, position in the run
// order): the runtime's loop (module_runner.cc RunStep) with the warm-up of
// WarmupForwards. The generator's backward is done inside its forward, so
// its list is FB(0), FB(1), ...
std::vector<std::pair<int, int>> StageOps(int stage, int M) {
  static constexpr int kWarmup[kNumStages] = {2, 1, 0};
  static constexpr int kFwd[kNumStages] = {kEncF, kLlmF, kGen};
  static constexpr int kBwd[kNumStages] = {kEncB, kLlmB, -1};
  std::vector<std::pair<int, int>> ops;
  const int w = std::min(kWarmup[stage], M);
  const bool has_bwd = kBwd[stage] >= 0;
  int next_f = 0, next_b = 0;
  for (int i = 0; i < w; ++i) ops.push_back({kFwd[stage], next_f++});
  while (next_f < M) {
    ops.push_back({kFwd[stage], next_f++});
    if (has_bwd) ops.push_back({kBwd[stage], next_b++});
  }
  while (has_bwd && next_b < M) ops.push_back({kBwd[stage], next_b++});
  return ops;
}

// The schedule's dependency graph in a topological order. It depends only
// on M: node k is operation op[k] of the microbatch at position pos[k]; it
// starts at max(end of node prev[k] (its stage's previous op), end of node
// dep[k] (its input)), where index n stands for "none" (end time 0).
struct Program {
  int m = 0, n = 0;
  std::vector<uint8_t> op, stage;
  std::vector<int> pos, prev, dep;
  std::vector<int> next, cons;    // successors: the stage's next op, the op using the output (n: none)
  std::vector<int> stage_before;  // [k * 3 + s]: stage s's last node before node k (n: none), k <= n
  std::vector<int> stage_from;    // [k * 3 + s]: stage s's first node at or after node k (n: none), k <= n
  std::vector<int> first_at;      // first_at[p]: first node whose position is >= p (size m + 1)
  std::vector<int> cut;           // cut[p]: 1 + last node whose position is <= p
  // The frontier of cut[p]: the nodes before it with a successor at or
  // after it, and the stages' last ops before it (CSR: frontier[p] is
  // frontier_nodes[frontier_begin[p] .. frontier_begin[p + 1])).
  std::vector<int> frontier_begin, frontier_nodes;
  std::array<int, kNumStages> last{};  // each stage's last node (n when it has none)
};

Program BuildProgram(int M) {
  Program pr;
  pr.m = M;
  std::array<std::vector<std::pair<int, int>>, kNumStages> seq;
  for (int s = 0; s < kNumStages; ++s) seq[size_t(s)] = StageOps(s, M);
  pr.n = int(seq[0].size() + seq[1].size() + seq[2].size());
  const int n = pr.n;
  std::vector<int> index(size_t(M) * kNumOps, -1);  // node of (position, op), -1 until placed
  std::array<size_t, kNumStages> head{};
  std::array<int, kNumStages> prev_node{n, n, n};
  // Repeatedly place the next op of any stage whose input is already placed.
  // With the 1F1B orders this always makes progress; a stall is a bug.
  while (int(pr.op.size()) < n) {
    bool progress = false;
    for (int s = 0; s < kNumStages; ++s) {
      while (head[size_t(s)] < seq[size_t(s)].size()) {
        const auto [op, p] = seq[size_t(s)][head[size_t(s)]];
        int dep = n;
        if (op != kEncF) {
          dep = index[size_t(p) * kNumOps + size_t(op - 1)];
          if (dep < 0) break;  // input not scheduled yet
        }
        const int k = int(pr.op.size());
        index[size_t(p) * kNumOps + size_t(op)] = k;
        pr.op.push_back(uint8_t(op));
        pr.stage.push_back(uint8_t(s));
        pr.pos.push_back(p);
        pr.prev.push_back(prev_node[size_t(s)]);
        pr.dep.push_back(dep);
        prev_node[size_t(s)] = k;
        ++head[size_t(s)];
        progress = true;
      }
    }
    BRAID_CHECK_MSG(progress, "1F1B schedule deadlocks with %d microbatches", M);
  }
  pr.last = prev_node;
  pr.next.assign(size_t(n), n);
  pr.cons.assign(size_t(n), n);
  for (int k = 0; k < n; ++k) {
    if (pr.prev[size_t(k)] < n) pr.next[size_t(pr.prev[size_t(k)])] = k;
    if (pr.dep[size_t(k)] < n) pr.cons[size_t(pr.dep[size_t(k)])] = k;
  }
  pr.stage_before.assign((size_t(n) + 1) * kNumStages, n);
  for (int k = 0; k < n; ++k) {
    std::copy_n(&pr.stage_before[size_t(k) * kNumStages], kNumStages, &pr.stage_before[size_t(k + 1) * kNumStages]);
    pr.stage_before[size_t(k + 1) * kNumStages + pr.stage[size_t(k)]] = k;
  }
  pr.stage_from.assign((size_t(n) + 1) * kNumStages, n);
  for (int k = n - 1; k >= 0; --k) {
    std::copy_n(&pr.stage_from[size_t(k + 1) * kNumStages], kNumStages, &pr.stage_from[size_t(k) * kNumStages]);
    pr.stage_from[size_t(k) * kNumStages + pr.stage[size_t(k)]] = k;
  }
  pr.first_at.assign(size_t(M) + 1, n);
  pr.cut.assign(size_t(M), 0);
  for (int k = 0; k < n; ++k) {
    const size_t p = size_t(pr.pos[size_t(k)]);
    pr.first_at[p] = std::min(pr.first_at[p], k);
    pr.cut[p] = std::max(pr.cut[p], k + 1);
  }
  for (int p = M - 1; p >= 0; --p)
    pr.first_at[size_t(p)] = std::min(pr.first_at[size_t(p)], pr.first_at[size_t(p) + 1]);
  for (int p = 1; p < M; ++p) pr.cut[size_t(p)] = std::max(pr.cut[size_t(p)], pr.cut[size_t(p) - 1]);
  pr.frontier_begin.push_back(0);
  for (int p = 0; p < M; ++p) {
    const int c = pr.cut[size_t(p)];
    for (int f = 0; f < c; ++f) {
      const int nx = pr.next[size_t(f)], cs = pr.cons[size_t(f)];
      if (nx == n || nx >= c || (cs < n && cs >= c)) pr.frontier_nodes.push_back(f);
    }
    pr.frontier_begin.push_back(int(pr.frontier_nodes.size()));
  }
  return pr;
}

// Runs nodes [from, to) of the program for one order. end has n + 1
// entries (end[n] == 0) and must already hold this order's end times of the
// nodes before `from`. Gives up as soon as a stage has waited so long that
// it cannot finish in time: limit[s] is (a bound) - (the work stage s still
// has to run after the ops done so far), so it grows by each op's cost, and
// a stage's clock reaching it means its end + remaining work >= the bound.
// Returns the node it gave up at, or -1 (and the updated limits) when it
// ran them all.
int RunNodes(const Program& pr, const double* costs, const int* order, int from, int to, double* end,
             std::array<double, kNumStages>& limit) {
  const uint8_t* op = pr.op.data();
  const int* pos = pr.pos.data();
  const int* dep = pr.dep.data();
  // The stages' clocks live in registers: each op waits for its stage's
  // previous op (the clock) and for its input (end[dep]).
  const int* before = &pr.stage_before[size_t(from) * kNumStages];
  double te = end[before[0]], tl = end[before[1]], tg = end[before[2]];
  double le = limit[0], ll = limit[1], lg = limit[2];
  for (int k = from; k < to; ++k) {
    const double* c = &costs[size_t(order[pos[k]]) * kNumOps];
    switch (op[k]) {
      case kEncF:  // no input: never waits
        te += c[kEncF];
        le += c[kEncF];
        end[k] = te;
        break;
      case kLlmF:
        tl = std::max(tl, end[dep[k]]) + c[kLlmF];
        ll += c[kLlmF];
        end[k] = tl;
        if (tl >= ll) return k;
        break;
      case kGen:
        tg = std::max(tg, end[dep[k]]) + c[kGen];
        lg += c[kGen];
        end[k] = tg;
        if (tg >= lg) return k;
        break;
      case kLlmB:
        tl = std::max(tl, end[dep[k]]) + c[kLlmB];
        ll += c[kLlmB];
        end[k] = tl;
        if (tl >= ll) return k;
        break;
      default:  // kEncB
        te = std::max(te, end[dep[k]]) + c[kEncB];
        le += c[kEncB];
        end[k] = te;
        if (te >= le) return k;
        break;
    }
  }
  limit = {le, ll, lg};
  return -1;
}

double FullMakespan(const Program& pr, const double* costs, const int* order, double* end) {
  std::array<double, kNumStages> no_limit = {kInf, kInf, kInf};
  RunNodes(pr, costs, order, 0, pr.n, end, no_limit);
  return std::max({end[pr.last[0]], end[pr.last[1]], end[pr.last[2]]});
}

// First-improvement local search over one order. A move changes the
// microbatches at positions lo..hi only, so a trial re-runs just the nodes
// from first_at[lo] to cut[hi]: the nodes before are the current order's,
// and those after have the current order's costs, so the makespan is
// max over the frontier of cut[hi] of (end of f + the longest path after f
// through nodes at or after the cut), the latter taken from the current
// order. A trial also stops as soon as it cannot beat the current makespan.
class LocalSearch {
 public:
  LocalSearch(const Program& pr, const std::vector<double>& costs, std::vector<int> order)
      : pr_(pr),
        costs_(costs),
        order_(std::move(order)),
        base_(size_t(pr.n) + 1, 0.0),
        work_(base_),
        tail_(size_t(pr.n), 0.0),
        from_start_(size_t(pr.n), 0.0),
        frontier_tail_(pr.frontier_nodes.size(), 0.0),
        done_at_(size_t(pr.n) + 1),
        min_llm_tail_(size_t(pr.m)),
        min_gen_tail_(size_t(pr.m)) {
    for (int k = 0; k < pr_.n; ++k) total_[pr_.stage[size_t(k)]] += Cost(k);
    Accept();
  }

  const std::vector<int>& order() const { return order_; }

  // Each pass tries every swap, then every insertion (move the microbatch
  // at i to position j; moves by one are swaps, already tried), keeping a
  // move as soon as it lowers the makespan by more than rounding noise;
  // stops after a pass that keeps none.
  void Run() {
    const int M = pr_.m;
    bool improved = true;
    while (improved) {
      improved = false;
      for (int i = 0; i < M; ++i)
        for (int j = i + 1; j < M; ++j) {
          std::swap(order_[size_t(i)], order_[size_t(j)]);
          if (Try(i, j)) {
            improved = true;
          } else {
            std::swap(order_[size_t(i)], order_[size_t(j)]);
          }
        }
      for (int i = 0; i < M; ++i) {
        auto first = order_.begin();
        for (int j = 0; j + 1 < i; ++j) {
          std::rotate(first + j, first + i, first + i + 1);
          if (Try(j, i)) {
            improved = true;
          } else {
            std::rotate(first + j, first + j + 1, first + i + 1);
          }
        }
        if (InsertForward(i)) improved = true;
      }
    }
  }

 private:
  double Cost(int k) const { return costs_[size_t(order_[size_t(pr_.pos[size_t(k)])]) * kNumOps + pr_.op[size_t(k)]]; }

  double Bound() const { return best_ - 1e-12 * best_; }  // strictly better beyond rounding noise

  // For a trial that changes positions lo..hi: stage s's work before
  // cut[hi] plus the least time from there to the end. Its ops before the
  // cut are those of the current order in another order (same sum); the
  // rest is the current order's, so its first op after the cut starts no
  // earlier than the stage's clock and is followed by at least its longest
  // path to the end. When the stage has no op after the cut, its last op is
  // followed by the rest of its microbatch's chain: at least the least such
  // rest among the microbatches at positions >= lo.
  double Reach(int s, int lo, int hi) const {
    const int c = pr_.cut[size_t(hi)], x = pr_.stage_from[size_t(c) * kNumStages + size_t(s)];
    const double after = x < pr_.n ? from_start_[size_t(x)]
                         : s == 0  ? 0.0
                         : s == 1  ? min_llm_tail_[size_t(lo)]
                                   : min_gen_tail_[size_t(lo)];
    return done_at_[size_t(c)][size_t(s)] + after;
  }

  // The limits (see RunNodes) at node `from` (before any changed op) of a
  // trial that changes positions lo..hi: a stage whose clock plus its work
  // still to run before the cut plus Reach's rest reaches the bound cannot
  // beat the current makespan.
  std::array<double, kNumStages> Limits(int lo, int hi, int from) const {
    const double bound = Bound();
    const std::array<double, kNumStages>& done = done_at_[size_t(from)];
    return {bound - Reach(0, lo, hi) + done[0], bound - Reach(1, lo, hi) + done[1], bound - Reach(2, lo, hi) + done[2]};
  }

  // Makes work_ agree with base_ before node `from`, and notes that the
  // trial will write [from, to).
  void Prepare(int from, int to) {
    if (dirty_lo_ < dirty_hi_ && dirty_lo_ < from) {
      std::copy(base_.begin() + dirty_lo_, base_.begin() + std::min(dirty_hi_, from), work_.begin() + dirty_lo_);
      dirty_lo_ = from;
    }
    Dirty(from, to);
  }
  void Dirty(int from, int to) {
    if (dirty_lo_ >= dirty_hi_) {
      dirty_lo_ = from;
      dirty_hi_ = to;
    } else {
      dirty_lo_ = std::min(dirty_lo_, from);
      dirty_hi_ = std::max(dirty_hi_, to);
    }
  }

  // The makespan of a trial that ran every node before cut[hi] and agrees
  // with the current order after position hi.
  double FrontierMakespan(int hi) const {
    double t = 0;
    for (int e = pr_.frontier_begin[size_t(hi)]; e < pr_.frontier_begin[size_t(hi) + 1]; ++e)
      t = std::max(t, work_[size_t(pr_.frontier_nodes[size_t(e)])] + frontier_tail_[size_t(e)]);
    return t;
  }

  // Evaluates order_, changed at positions lo..hi only; keeps it when it is
  // strictly better.
  bool Try(int lo, int hi) {
    const int from = pr_.first_at[size_t(lo)], to = pr_.cut[size_t(hi)];
    Prepare(from, to);
    std::array<double, kNumStages> limit = Limits(lo, hi, from);
    if (RunNodes(pr_, costs_.data(), order_.data(), from, to, work_.data(), limit) >= 0) return false;
    if (!(FrontierMakespan(hi) < Bound())) return false;
    Accept();
    return true;
  }

  // The insertions of the microbatch at i to positions j = i + 2, i + 3, ...
  // in turn. Consecutive targets agree on the positions before j, so each
  // trial resumes from the previous one's nodes at first_at[j - 1]. The
  // nodes before first_at[j] run under the limits that hold for every
  // target (Reach with nothing after the cut): once they give up there,
  // every later target would give up at the same node. The rest runs under
  // target j's own limits. A kept move makes the next target start afresh.
  bool InsertForward(int i) {
    const int M = pr_.m;
    auto first = order_.begin();
    bool improved = false;
    int j = i + 2;
    while (j < M) {
      std::rotate(first + i, first + i + 1, first + j + 1);  // order_[i] to j
      int from = pr_.first_at[size_t(i)];
      Prepare(from, from);
      std::array<double, kNumStages> shared = Limits(i, M - 1, from);
      bool kept = false;
      for (;;) {
        const int mid = pr_.first_at[size_t(j)], to = pr_.cut[size_t(j)];
        Dirty(from, to);
        if (RunNodes(pr_, costs_.data(), order_.data(), from, mid, work_.data(), shared) >= 0) break;
        std::array<double, kNumStages> own = shared;
        for (int st = 0; st < kNumStages; ++st) own[size_t(st)] += Reach(st, i, M - 1) - Reach(st, i, j);
        if (RunNodes(pr_, costs_.data(), order_.data(), mid, to, work_.data(), own) < 0 &&
            FrontierMakespan(j) < Bound()) {
          Accept();
          kept = improved = true;
          break;
        }
        if (j + 1 == M) break;
        std::swap(order_[size_t(j)], order_[size_t(j) + 1]);  // the microbatch on to j + 1
        ++j;
        from = mid;
      }
      if (!kept) {
        std::rotate(first + i, first + j, first + j + 1);  // back to i
        break;
      }
      ++j;
    }
    return improved;
  }

  // Takes order_ as the current order: its end times, longest paths to the
  // end, frontier tails, per-stage work prefixes and least tails.
  void Accept() {
    const int n = pr_.n;
    best_ = FullMakespan(pr_, costs_.data(), order_.data(), base_.data());
    work_ = base_;
    dirty_lo_ = dirty_hi_ = 0;
    // tail_[k]: the longest path from the end of node k to the end of the step.
    for (int k = n - 1; k >= 0; --k) {
      const int nx = pr_.next[size_t(k)], cs = pr_.cons[size_t(k)];
      double t = 0;
      if (nx < n) t = std::max(t, Cost(nx) + tail_[size_t(nx)]);
      if (cs < n) t = std::max(t, Cost(cs) + tail_[size_t(cs)]);
      tail_[size_t(k)] = t;
      from_start_[size_t(k)] = Cost(k) + t;
    }
    for (int p = 0; p < pr_.m; ++p) {
      const int c = pr_.cut[size_t(p)];
      for (int e = pr_.frontier_begin[size_t(p)]; e < pr_.frontier_begin[size_t(p) + 1]; ++e) {
        const int f = pr_.frontier_nodes[size_t(e)], nx = pr_.next[size_t(f)], cs = pr_.cons[size_t(f)];
        double t = 0;  // a stage's last op ends the stage; every other path goes on past the cut
        if (nx < n) t = nx >= c ? Cost(nx) + tail_[size_t(nx)] : -kInf;
        if (cs < n && cs >= c) t = std::max(t, Cost(cs) + tail_[size_t(cs)]);
        frontier_tail_[size_t(e)] = t;
      }
    }
    std::array<double, kNumStages> done{};
    for (int k = 0; k < n; ++k) {
      done_at_[size_t(k)] = done;
      done[pr_.stage[size_t(k)]] += Cost(k);
    }
    done_at_[size_t(n)] = done;
    double llm_tail = kInf, gen_tail = kInf;
    for (int p = pr_.m - 1; p >= 0; --p) {
      const double* c = &costs_[size_t(order_[size_t(p)]) * kNumOps];
      llm_tail = std::min(llm_tail, c[kEncB]);
      gen_tail = std::min(gen_tail, c[kLlmB] + c[kEncB]);
      min_llm_tail_[size_t(p)] = llm_tail;
      min_gen_tail_[size_t(p)] = gen_tail;
    }
  }

  const Program& pr_;
  const std::vector<double>& costs_;
  std::vector<int> order_;
  std::vector<double> base_, work_;                        // end times of the current order / of the trial
  int dirty_lo_ = 0, dirty_hi_ = 0;                        // work_ may differ from base_ there
  std::vector<double> tail_, from_start_, frontier_tail_;  // longest paths to the end from a node's end / start
  std::vector<std::array<double, kNumStages>> done_at_;
  std::vector<double> min_llm_tail_, min_gen_tail_;  // [p]: least rest after the LLM's / generator's last op
  std::array<double, kNumStages> total_{};
  double best_ = kInf;
};

// Johnson's rule for the two-machine flow shop A -> B, with A = the work
// that must precede a microbatch's generator op (encoder + LLM forward) and
// B = the work from it on (generator F+B, LLM backward, encoder backward):
// microbatches with A <= B first by increasing A, then the others by
// decreasing B; ties keep index order.
std::vector<int> JohnsonOrder(const std::vector<MicrobatchCost>& mbs) {
  const int M = int(mbs.size());
  std::vector<double> a(mbs.size()), b(mbs.size());
  for (int m = 0; m < M; ++m) {
    const MicrobatchCost& c = mbs[size_t(m)];
    a[size_t(m)] = c.encoder.fwd + c.llm.fwd;
    b[size_t(m)] = c.generator.fwd + c.generator.bwd + c.llm.bwd + c.encoder.bwd;
  }
  std::vector<int> first, second;
  for (int m = 0; m < M; ++m) (a[size_t(m)] <= b[size_t(m)] ? first : second).push_back(m);
  std::stable_sort(first.begin(), first.end(), [&](int x, int y) { return a[size_t(x)] < a[size_t(y)]; });
  std::stable_sort(second.begin(), second.end(), [&](int x, int y) { return b[size_t(x)] > b[size_t(y)]; });
  first.insert(first.end(), second.begin(), second.end());
  return first;
}

// min over a != d of s[a] + e[d] (size >= 2).
double MinDistinctSum(const std::vector<double>& s, const std::vector<double>& e) {
  const int M = int(s.size());
  int best = 0, second = -1;
  for (int a = 1; a < M; ++a) {
    if (s[size_t(a)] < s[size_t(best)]) {
      second = best;
      best = a;
    } else if (second < 0 || s[size_t(a)] < s[size_t(second)]) {
      second = a;
    }
  }
  double r = kInf;
  for (int d = 0; d < M; ++d) r = std::min(r, s[size_t(d == best ? second : best)] + e[size_t(d)]);
  return r;
}

// The extreme of v over microbatches other than x and y (0 when none):
// `ranked` lists indices best first.
double BestExcluding(const std::vector<double>& v, const std::vector<int>& ranked, int x, int y) {
  for (int i : ranked)
    if (i != x && i != y) return v[size_t(i)];
  return 0;
}

std::vector<int> Ranked(const std::vector<double>& v, bool largest_first) {
  std::vector<int> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int x, int y) {
    return largest_first ? v[size_t(x)] > v[size_t(y)] : v[size_t(x)] < v[size_t(y)];
  });
  idx.resize(std::min<size_t>(idx.size(), 3));  // two exclusions at most
  return idx;
}

}  // namespace

double OneFOneBMakespan(const std::vector<MicrobatchCost>& mbs) {
  if (mbs.empty()) return 0;
  const Program pr = BuildProgram(int(mbs.size()));
  const std::vector<double> costs = CostTable(mbs);
  std::vector<int> order(mbs.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> end(size_t(pr.n) + 1, 0.0);
  return FullMakespan(pr, costs.data(), order.data(), end.data());
}

// The formula and why each term is valid: pipeline.h.
double MakespanLowerBound(const std::vector<MicrobatchCost>& mbs) {
  const int M = int(mbs.size());
  if (M == 0) return 0;
  std::vector<double> eF(mbs.size()), lF(mbs.size()), g(mbs.size()), lB(mbs.size()), eB(mbs.size());
  double lb = 0, We = 0, Wl = 0, Wg = 0;
  for (int m = 0; m < M; ++m) {
    const MicrobatchCost& c = mbs[size_t(m)];
    eF[size_t(m)] = c.encoder.fwd;
    lF[size_t(m)] = c.llm.fwd;
    g[size_t(m)] = c.generator.fwd + c.generator.bwd;
    lB[size_t(m)] = c.llm.bwd;
    eB[size_t(m)] = c.encoder.bwd;
    lb = std::max(lb, eF[size_t(m)] + lF[size_t(m)] + g[size_t(m)] + lB[size_t(m)] + eB[size_t(m)]);  // (a)
    We += eF[size_t(m)] + eB[size_t(m)];
    Wl += lF[size_t(m)] + lB[size_t(m)];
    Wg += g[size_t(m)];
  }
  if (M == 1) return lb;  // one order; (a) is the makespan

  std::vector<double> eFlF(mbs.size());
  for (int m = 0; m < M; ++m) eFlF[size_t(m)] = eF[size_t(m)] + lF[size_t(m)];
  const std::vector<int> maxEF = Ranked(eF, true), maxEB = Ranked(eB, true);
  const std::vector<int> minLF = Ranked(lF, false), minEFLF = Ranked(eFlF, false);

  // Start of the step with a = p0, b = p1: end of LLM F(b), and the start
  // of LLM B(a) (which also bounds the generator's FB(b) start).
  auto llm_f1_end = [&](int a, int b) {
    return std::max(eF[size_t(a)] + lF[size_t(a)], eF[size_t(a)] + eF[size_t(b)]) + lF[size_t(b)];
  };
  auto llm_b0_start = [&](int a, int b) {
    return std::max(eF[size_t(a)] + lF[size_t(a)] + g[size_t(a)], llm_f1_end(a, b));
  };
  // End of the step with c = p[M-2], d = p[M-1]: from the end of LLM F(d)
  // (or of the generator's FB(c)) to the end of encoder B(d).
  auto drain = [&](int c, int d) {
    return std::max(std::max(lB[size_t(c)], g[size_t(d)]) + lB[size_t(d)], lB[size_t(c)] + eB[size_t(c)]) +
           eB[size_t(d)];
  };

  std::vector<double> se(size_t(M), kInf), ee(size_t(M), kInf);  // encoder idle at start / end
  std::vector<double> sl(size_t(M), kInf), el(size_t(M), kInf);  // LLM head + start idle / end idle + tail
  std::vector<double> sg(size_t(M), kInf), eg(size_t(M), kInf);  // generator head + start idle / tail
  double gen2 = kInf;                                            // generator, M == 2
  for (int x = 0; x < M; ++x)
    for (int y = 0; y < M; ++y) {
      if (x == y) continue;
      const size_t a = size_t(x), b = size_t(y);  // start: p0 = x, p1 = y
      const size_t c = size_t(x), d = size_t(y);  // end: p[M-2] = x, p[M-1] = y
      // Encoder start: B(a) waits for LLM B(a) after min(M, 3) forwards.
      const double fwds = eF[a] + eF[b] + (M >= 3 ? BestExcluding(eF, maxEF, x, y) : 0);
      se[a] = std::min(se[a], std::max(0.0, llm_b0_start(x, y) + lB[a] - fwds));
      // Encoder end: after F(d) it runs B(p[M-3]) (M >= 3), B(c), then B(d).
      const double e3 = M >= 3 ? BestExcluding(eB, maxEB, x, y) : 0;
      const double idle_end = std::max({0.0, lF[d] + std::max(g[d], lB[c]) + lB[d] - e3 - eB[c], lF[d] + lB[c] - e3});
      ee[d] = std::min(ee[d], idle_end);
      // LLM: ops F(a), F(b) before B(a); B(c), B(d) after F(d).
      sl[a] = std::min(sl[a], llm_b0_start(x, y) - lF[a] - lF[b]);
      el[d] = std::min(el[d], drain(x, y) - lB[c] - lB[d]);
      // Generator: FB(a) starts after LLM F(a); FB(b) after LLM F(b); with
      // M >= 4, FB(p2) after LLM F(p2), which follows LLM B(a).
      const double s1 = llm_b0_start(x, y);
      if (M >= 4) {
        const double s2 = std::max({s1 + g[b], s1 + lB[a] + BestExcluding(lF, minLF, x, y),
                                    eF[a] + eF[b] + BestExcluding(eFlF, minEFLF, x, y)});
        sg[a] = std::min(sg[a], s2 - g[a] - g[b]);
      } else {
        sg[a] = std::min(sg[a], s1 - g[a]);
      }
      eg[d] = std::min(eg[d], drain(x, y) - g[d]);
      if (M == 2) gen2 = std::min(gen2, std::max(eFlF[a] + g[a] + drain(x, y), s1 + g[b] + lB[b] + eB[b]));
    }

  if (M == 2) {
    // Two orders, and the windows overlap: each stage's start and end
    // shapes on their own.
    lb = std::max({lb, We + *std::min_element(se.begin(), se.end()), We + *std::min_element(ee.begin(), ee.end()),
                   Wl + MinDistinctSum(sl, eB), Wl + MinDistinctSum(eF, el), gen2});
    return lb;
  }
  // Every order has some first microbatch a and last d != a; for each such
  // pair, the order is at least every stage's bound given a and d.
  double joint = kInf;
  for (int x = 0; x < M; ++x)
    for (int y = 0; y < M; ++y) {
      if (x == y) continue;
      const size_t a = size_t(x), d = size_t(y);
      // Encoder: the two idle windows are disjoint once B(p0) precedes
      // F(p[M-1]), i.e. M >= 4; for M == 3 take the larger.
      const double enc = M >= 4 ? se[a] + ee[d] : std::max(se[a], ee[d]);
      joint = std::min(joint, std::max({We + enc, Wl + sl[a] + el[d], Wg + sg[a] + eg[d]}));
    }
  return std::max(lb, joint);
}

std::vector<int> OrderMicrobatches(const std::vector<MicrobatchCost>& mbs) {
  const int M = int(mbs.size());
  std::vector<int> identity(mbs.size());
  std::iota(identity.begin(), identity.end(), 0);
  if (M <= 1) return identity;
  const Program pr = BuildProgram(M);
  const std::vector<double> costs = CostTable(mbs);
  std::vector<double> end(size_t(pr.n) + 1, 0.0);
  if (M <= 7) {
    std::vector<int> p = identity, best = identity;
    double best_t = kInf;
    do {
      const double t = FullMakespan(pr, costs.data(), p.data(), end.data());
      if (t < best_t) {
        best_t = t;
        best = p;
      }
    } while (std::next_permutation(p.begin(), p.end()));
    return best;
  }
  const std::vector<int> johnson = JohnsonOrder(mbs);
  const double t_id = FullMakespan(pr, costs.data(), identity.data(), end.data());
  const double t_jo = FullMakespan(pr, costs.data(), johnson.data(), end.data());
  LocalSearch search(pr, costs, t_jo < t_id ? johnson : identity);
  search.Run();
  return search.order();
}

}  // namespace braid::schedule
