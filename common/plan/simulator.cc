#include "common/plan/simulator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace braid::plan {
namespace {

// ---------------------------------------------------------------------------
// Validation

std::string Num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", x);
  return buf;
}

std::string Field(const SimInput& in, size_t s, const std::string& field) {
  return "stages[" + std::to_string(s) + "] (" + in.stages[s].name + ")." + field;
}

bool IsCost(double x) { return std::isfinite(x) && x >= 0; }

Status BadCost(const std::string& where, double x) {
  return Status::InvalidArgument(where + ": " + Num(x) + ", want a finite value >= 0");
}

// A per-microbatch cost vector: M entries (or none where `may_be_empty`).
// Messages are built only on failure: the planner validates many inputs.
Status CheckCosts(const SimInput& in, size_t s, const char* field, const std::vector<double>& v, bool may_be_empty) {
  const int M = in.microbatches;
  if (int64_t(v.size()) != M && !(may_be_empty && v.empty())) {
    return Status::InvalidArgument(Field(in, s, field) + ": has " + std::to_string(v.size()) + " entries, want " +
                                   (may_be_empty ? "0 or " : "") + std::to_string(M));
  }
  for (size_t m = 0; m < v.size(); ++m)
    if (!IsCost(v[m])) return BadCost(Field(in, s, field) + "[" + std::to_string(m) + "]", v[m]);
  return Status::Ok();
}

Status CheckStage(const SimInput& in, size_t s) {
  const SimStage& st = in.stages[s];
  if (st.warmup < 0)
    return Status::InvalidArgument(Field(in, s, "warmup") + ": " + std::to_string(st.warmup) + ", want >= 0");
  if (st.fused && s + 1 != in.stages.size())
    return Status::InvalidArgument(Field(in, s, "fused") + ": only the last stage may be fused");
  RETURN_IF_ERROR(CheckCosts(in, s, "fwd", st.fwd, false));
  RETURN_IF_ERROR(CheckCosts(in, s, "bwd", st.bwd, false));
  RETURN_IF_ERROR(CheckCosts(in, s, "send_fwd", st.send_fwd, true));
  RETURN_IF_ERROR(CheckCosts(in, s, "send_bwd", st.send_bwd, true));
  if (!IsCost(st.allreduce)) return BadCost(Field(in, s, "allreduce"), st.allreduce);
  if (st.buckets < 1)
    return Status::InvalidArgument(Field(in, s, "buckets") + ": " + std::to_string(st.buckets) + ", want >= 1");
  if (!IsCost(st.optimizer)) return BadCost(Field(in, s, "optimizer"), st.optimizer);
  if (st.pool < -1 || st.pool >= int64_t(in.pools.size())) {
    return Status::InvalidArgument(Field(in, s, "pool") + ": " + std::to_string(st.pool) +
                                   ", want -1 or an index below the pool count " + std::to_string(in.pools.size()));
  }
  if (!(st.max_rate > 0))
    return Status::InvalidArgument(Field(in, s, "max_rate") + ": " + Num(st.max_rate) + ", want > 0");
  if (!IsCost(st.devices)) return BadCost(Field(in, s, "devices"), st.devices);
  return Status::Ok();
}

Status Validate(const SimInput& in) {
  if (in.microbatches < 1)
    return Status::InvalidArgument("microbatches: " + std::to_string(in.microbatches) + ", want >= 1");
  if (in.stages.empty()) return Status::InvalidArgument("stages: none, want at least one");
  for (size_t p = 0; p < in.pools.size(); ++p) {
    const double c = in.pools[p];
    if (!(std::isfinite(c) && c > 0))
      return Status::InvalidArgument("pools[" + std::to_string(p) + "]: " + Num(c) + ", want a finite capacity > 0");
  }
  for (size_t s = 0; s < in.stages.size(); ++s) RETURN_IF_ERROR(CheckStage(in, s));
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Simulation
//
// Event-driven: time jumps from one moment to the next (an op's end, an
// input arriving). A running op progresses at a constant rate between
// moments, in one of two ways:
//  - fixed: on own devices (rate 1) or capped on a pool (rate max_rate); its
//    end is known when it starts or gets capped, one queued moment;
//  - shared: uncapped on a pool, where all uncapped ops run at the pool's
//    water-filling level. They share a virtual work clock V (dV/dt = level),
//    so an op is done when V reaches v_end; a pool keeps its shared ops in a
//    heap by v_end and a level change costs O(log n), not a pass over them.

constexpr double kUnknown = -1;  // an op's input time before its producer has finished (times are >= 0)

// Remaining work at or below this counts as done: rates times durations
// round, and an op must not linger on a residue of 1e-17 seconds.
double Tolerance(double work) { return 1e-12 * (1 + work); }

struct Op {
  char kind = 'F';  // 'F', 'B', 'X' or 'O', as SimEvent
  int mb = -1;
  double work = 0;
  double ready = kUnknown;  // when its input is there: producer end + transfer (0: no input)
};

enum class Mode : uint8_t { kIdle, kFixed, kShared };

// One stage's fixed op list and the progress of its running op.
struct StageRun {
  std::vector<Op> ops;      // run order: the 1F1B compute ops, then the optimizer when it has work
  std::vector<int> fwd_op;  // [m]: index in ops of F(m) or X(m)
  std::vector<int> bwd_op;  // [m]: index in ops of B(m) or X(m)
  int last_compute = 0;     // index of the last F/B/X op: its backward releases the buckets
  int optimizer_op = -1;    // index of the optimizer op, -1 when it has no work
  size_t next = 0;          // next op to run
  size_t wake_for = SIZE_MAX;  // op a wake-up is queued for (at most one per op)
  Mode mode = Mode::kIdle;
  uint32_t version = 0;  // bumps on every mode or rate change: older queued entries are stale
  double start = 0;      // of the running op
  double t_ref = 0, rem_ref = 0, rate = 0;  // kFixed: remaining work rem_ref at t_ref, then `rate`
  double v_end = 0;                         // kShared: done when its pool's virtual clock reaches v_end
  double busy = 0;
  // Buckets: work thresholds of the last compute op (base + part x (b+1)/B)
  // and the time each was crossed.
  double bucket_base = 0, bucket_part = 0;
  std::vector<double> bucket_ready;
};

// The fixed 1F1B op list of stage s (see simulator.h).
void BuildOps(const SimInput& in, size_t s, StageRun& run) {
  const SimStage& st = in.stages[s];
  const int M = in.microbatches;
  const bool first = s == 0, last = s + 1 == in.stages.size();
  run.fwd_op.assign(size_t(M), -1);
  run.bwd_op.assign(size_t(M), -1);
  run.ops.reserve(size_t(st.fused ? M : 2 * M) + 1);
  auto add = [&](char kind, int m) {
    Op op;
    op.kind = kind;
    op.mb = m;
    op.work = kind == 'F' ? st.fwd[size_t(m)] : kind == 'B' ? st.bwd[size_t(m)] : st.fwd[size_t(m)] + st.bwd[size_t(m)];
    // Inputs that need no other stage: the first stage's forwards, and the
    // last stage's backwards (they follow their forward in the stage order).
    if ((kind != 'B' && first) || (kind == 'B' && last)) op.ready = 0;
    if (kind != 'B') run.fwd_op[size_t(m)] = int(run.ops.size());
    if (kind != 'F') run.bwd_op[size_t(m)] = int(run.ops.size());
    run.ops.push_back(op);
  };
  if (st.fused) {
    for (int m = 0; m < M; ++m) add('X', m);
  } else {
    const int w = std::min(st.warmup, M);
    int next_f = 0, next_b = 0;
    while (next_f < w) add('F', next_f++);
    while (next_f < M) {
      add('F', next_f++);
      add('B', next_b++);
    }
    while (next_b < M) add('B', next_b++);
  }
  run.last_compute = int(run.ops.size()) - 1;
  const Op& lc = run.ops.back();
  run.bucket_base = st.fused ? st.fwd[size_t(lc.mb)] : 0;
  run.bucket_part = st.fused ? st.bwd[size_t(lc.mb)] : lc.work;
  if (st.optimizer > 0) {
    run.optimizer_op = int(run.ops.size());
    run.ops.push_back(Op{'O', -1, st.optimizer, kUnknown});
  }
}

// A queued moment: a stage's next input arriving, the end of a fixed op, or
// the first due entry of a pool's shared heap (the last two valid while
// their version matches).
struct Moment {
  enum Kind : uint8_t { kInput, kStageDone, kPoolDue };
  double time = 0;
  Kind kind = kInput;
  int index = 0;  // stage, or pool for kPoolDue
  uint32_t version = 0;
};
struct MomentLater {
  bool operator()(const Moment& a, const Moment& b) const {
    if (a.time != b.time) return a.time > b.time;
    return a.kind != b.kind ? a.kind > b.kind : a.index > b.index;
  }
};

// An entry of a pool's shared heap: a shared op's end, or the point where
// the last backward crosses a bucket threshold (bucket >= 0).
struct VirtualMark {
  double v = 0;
  int stage = 0;
  int bucket = -1;
  uint32_t version = 0;
};
struct MarkLater {
  bool operator()(const VirtualMark& a, const VirtualMark& b) const {
    if (a.v != b.v) return a.v > b.v;
    return a.stage != b.stage ? a.stage > b.stage : a.bucket < b.bucket;  // a stage's buckets before its end
  }
};

struct PoolRun {
  double capacity = 0;
  std::vector<int> members;  // stages running on the pool, by (max_rate, stage): the capped ones come first
  std::vector<int> joined;   // members that started since the last water-filling
  double level = 0;          // the rate of each uncapped member
  double v = 0, v_time = 0;  // the virtual clock: V(v_time) = v, then dV/dt = level
  std::priority_queue<VirtualMark, std::vector<VirtualMark>, MarkLater> marks;
  bool dirty = false;  // membership changed: water-fill again
  uint32_t version = 0;
  VirtualMark due;  // the entry the queued kPoolDue moment is for
};

class Simulation {
 public:
  explicit Simulation(const SimInput& in) : in_(in), runs_(in.stages.size()), pools_(in.pools.size()) {
    size_t buckets = 0;
    for (size_t s = 0; s < runs_.size(); ++s) {
      BuildOps(in, s, runs_[s]);
      total_ops_ += runs_[s].ops.size();
      if (in.stages[s].allreduce > 0) buckets += size_t(in.stages[s].buckets);
    }
    for (size_t p = 0; p < pools_.size(); ++p) pools_[p].capacity = in.pools[p];
    events_.reserve(total_ops_ + buckets);
  }

  StatusOr<SimResult> Run() {
    for (size_t s = 0; s < runs_.size(); ++s) TryStart(int(s));
    UpdatePools();
    while (done_ops_ < total_ops_) {
      if (queue_.empty()) return Deadlock();
      now_ = queue_.top().time;
      while (!queue_.empty() && queue_.top().time <= now_) {
        const Moment m = queue_.top();
        queue_.pop();
        if (m.kind == Moment::kInput) {
          touched_.push_back(m.index);
        } else if (m.kind == Moment::kStageDone) {
          if (m.version == runs_[size_t(m.index)].version) Complete(m.index);
        } else if (m.version == pools_[size_t(m.index)].version) {
          PoolDue(m.index);
        }
      }
      for (size_t i = 0; i < touched_.size(); ++i) TryStart(touched_[i]);
      touched_.clear();
      UpdatePools();
    }
    return Finish();
  }

 private:
  const SimStage& Stage(int s) const { return in_.stages[size_t(s)]; }
  double Work(const StageRun& run) const { return run.ops[run.next].work; }

  // Starts stage s's next op if the stage is idle and the op's input is
  // there; queues a wake-up when the input is known but still in transit.
  void TryStart(int s) {
    StageRun& run = runs_[size_t(s)];
    if (run.mode != Mode::kIdle || run.next >= run.ops.size()) return;
    const Op& op = run.ops[run.next];
    if (op.ready == kUnknown) return;  // its producer's completion will touch this stage
    if (op.ready > now_) {
      if (run.wake_for != run.next) {
        run.wake_for = run.next;
        queue_.push(Moment{op.ready, Moment::kInput, s, 0});
      }
      return;
    }
    run.start = now_;
    const int pool = Stage(s).pool;
    if (pool < 0) {
      SetFixed(s, op.work, 1);
    } else {  // fixed at rate 0 until the pool's water-filling places it
      run.mode = Mode::kFixed;
      run.t_ref = now_;
      run.rem_ref = op.work;
      run.rate = 0;
      PoolRun& p = pools_[size_t(pool)];
      p.members.insert(std::lower_bound(p.members.begin(), p.members.end(), s, CapOrder()), s);
      p.joined.push_back(s);
      p.dirty = true;
    }
  }

  struct ByCap {
    const Simulation* sim;
    bool operator()(int a, int b) const {
      const double ca = sim->Stage(a).max_rate, cb = sim->Stage(b).max_rate;
      return ca != cb ? ca < cb : a < b;
    }
  };
  ByCap CapOrder() const { return {this}; }

  // ----- Progress

  double VirtualNow(const PoolRun& p) const { return p.v + p.level * (now_ - p.v_time); }

  double Remaining(int s) const {
    const StageRun& run = runs_[size_t(s)];
    const double rem = run.mode == Mode::kShared ? run.v_end - VirtualNow(pools_[size_t(Stage(s).pool)])
                                                 : run.rem_ref - run.rate * (now_ - run.t_ref);
    return rem <= Tolerance(Work(run)) ? 0 : std::max(rem, 0.0);
  }

  bool TracksBuckets(int s) const {
    const StageRun& run = runs_[size_t(s)];
    return Stage(s).allreduce > 0 && int(run.next) == run.last_compute;
  }
  double BucketThreshold(int s, int b) const {
    const StageRun& run = runs_[size_t(s)];
    return run.bucket_base + run.bucket_part * double(b + 1) / double(Stage(s).buckets);
  }

  // Notes the buckets whose threshold the running op has crossed by now
  // (all remaining ones when `final`). A fixed op ran at `rate` since t_ref,
  // so its crossing times are exact; a shared op's were queued as marks and
  // popped on time, so what is left here crossed within rounding of now.
  void CrossBuckets(int s, double rem_now, bool final) {
    StageRun& run = runs_[size_t(s)];
    const int B = Stage(s).buckets;
    const double work = Work(run), done_before = work - run.rem_ref, done_now = work - rem_now;
    while (int(run.bucket_ready.size()) < B) {
      const int b = int(run.bucket_ready.size());
      const double threshold = BucketThreshold(s, b);
      if (!final && threshold > done_now + Tolerance(work)) break;
      double t = now_;
      if (run.mode == Mode::kFixed && !(final && b + 1 == B) && run.rate > 0 && threshold > done_before)
        t = std::clamp(run.t_ref + (threshold - done_before) / run.rate, run.t_ref, now_);
      run.bucket_ready.push_back(t);
    }
  }

  // Runs stage s's op at a constant rate from now on.
  void SetFixed(int s, double rem, double rate) {
    StageRun& run = runs_[size_t(s)];
    run.mode = Mode::kFixed;
    run.t_ref = now_;
    run.rem_ref = rem;
    run.rate = rate;
    queue_.push(Moment{now_ + rem / rate, Moment::kStageDone, s, ++run.version});
  }

  // Runs stage s's op at its pool's level from now on: its end and its
  // bucket thresholds go into the pool's heap in virtual time.
  void SetShared(int s, PoolRun& pool, double rem) {
    StageRun& run = runs_[size_t(s)];
    run.mode = Mode::kShared;
    run.v_end = pool.v + rem;
    ++run.version;
    pool.marks.push(VirtualMark{run.v_end, s, -1, run.version});
    if (!TracksBuckets(s)) return;
    const double work = Work(run);
    for (int b = int(run.bucket_ready.size()); b + 1 < Stage(s).buckets; ++b)
      pool.marks.push(VirtualMark{run.v_end - (work - BucketThreshold(s, b)), s, b, run.version});
  }

  // Moves a running pool op to fixed (capped at `rate`) or shared mode.
  void Place(int s, PoolRun& pool, bool capped, double rate) {
    StageRun& run = runs_[size_t(s)];
    if (capped && run.mode == Mode::kFixed && run.rate == rate) return;  // unchanged: its end stands
    if (!capped && run.mode == Mode::kShared) return;                     // follows the level
    const double rem = Remaining(s);
    if (TracksBuckets(s)) CrossBuckets(s, rem, false);
    if (capped) {
      SetFixed(s, rem, rate);
    } else {
      SetShared(s, pool, rem);
    }
  }

  // ----- Completion

  void SetReady(int s, int op, double t) {
    StageRun& run = runs_[size_t(s)];
    run.ops[size_t(op)].ready = t;
    if (run.mode == Mode::kIdle && run.next == size_t(op)) touched_.push_back(s);
  }

  void Complete(int s) {
    StageRun& run = runs_[size_t(s)];
    if (TracksBuckets(s)) CrossBuckets(s, 0, true);
    const Op& op = run.ops[run.next];
    events_.push_back(SimEvent{s, op.kind, op.mb, run.start, now_});
    run.busy += now_ - run.start;
    run.mode = Mode::kIdle;
    ++run.version;
    const int pool = Stage(s).pool;
    if (pool >= 0) {
      PoolRun& p = pools_[size_t(pool)];
      p.members.erase(std::lower_bound(p.members.begin(), p.members.end(), s, CapOrder()));
      p.dirty = true;
    }
    Deliver(s, op);
    if (int(run.next) == run.last_compute) ReleaseBuckets(s);
    ++run.next;
    ++done_ops_;
    touched_.push_back(s);
  }

  // The pool's first due mark is now: handles it, and every other whose
  // virtual time is within rounding of the clock.
  void PoolDue(int p) {
    PoolRun& pool = pools_[size_t(p)];
    const double v = VirtualNow(pool);
    while (!pool.marks.empty()) {
      const VirtualMark mark = pool.marks.top();
      StageRun& run = runs_[size_t(mark.stage)];
      if (run.mode != Mode::kShared || run.version != mark.version) {  // stale
        pool.marks.pop();
        continue;
      }
      // The queued one is due even if rounding leaves it a hair ahead of v.
      const bool queued =
          mark.stage == pool.due.stage && mark.bucket == pool.due.bucket && mark.version == pool.due.version;
      if (!queued && mark.v > v + Tolerance(Work(run))) break;
      pool.marks.pop();
      if (mark.bucket < 0) {
        Complete(mark.stage);
      } else {
        while (int(run.bucket_ready.size()) <= mark.bucket) run.bucket_ready.push_back(now_);
      }
    }
    pool.dirty = true;  // queue the next due mark
  }

  // Hands a finished op's output to its consumer, after the transfer.
  void Deliver(int s, const Op& op) {
    const size_t m = size_t(op.mb);
    if (op.kind == 'F' && size_t(s) + 1 < runs_.size()) {
      const std::vector<double>& send = Stage(s).send_fwd;
      SetReady(s + 1, runs_[size_t(s) + 1].fwd_op[m], now_ + (send.empty() ? 0 : send[m]));
    }
    if ((op.kind == 'B' || op.kind == 'X') && s > 0) {
      const std::vector<double>& send = Stage(s).send_bwd;
      SetReady(s - 1, runs_[size_t(s) - 1].bwd_op[m], now_ + (send.empty() ? 0 : send[m]));
    }
  }

  // The last backward is done: its buckets' ready times are known, so the
  // channel's schedule is too (buckets in order, each after the previous);
  // the optimizer waits for the last one.
  void ReleaseBuckets(int s) {
    StageRun& run = runs_[size_t(s)];
    const SimStage& st = Stage(s);
    double channel = 0, optimizer_ready = now_;
    if (st.allreduce > 0) {
      const double each = st.allreduce / double(st.buckets);
      for (int b = 0; b < st.buckets; ++b) {
        const double start = std::max(run.bucket_ready[size_t(b)], channel);
        channel = start + each;
        events_.push_back(SimEvent{s, 'A', b, start, channel});
      }
      optimizer_ready = std::max(optimizer_ready, channel);
    }
    if (run.optimizer_op >= 0) SetReady(s, run.optimizer_op, optimizer_ready);
  }

  // ----- Water-filling

  // On every pool whose membership changed: members in cap order take their
  // cap while it is at most an equal share of what is left; the rest run at
  // that share (the level). Only the capped prefix and the ops that change
  // mode are visited: with equal caps and a busy pool that is O(1) plus the
  // heap, however many ops share the pool.
  void UpdatePools() {
    for (size_t p = 0; p < pools_.size(); ++p) {
      PoolRun& pool = pools_[p];
      if (!pool.dirty) continue;
      pool.dirty = false;
      pool.v = VirtualNow(pool);  // the old level ran until now
      pool.v_time = now_;
      const std::vector<int>& members = pool.members;
      const int k = int(members.size());
      double left = pool.capacity;
      int capped = 0;
      while (capped < k && Stage(members[size_t(capped)]).max_rate <= left / double(k - capped))
        left -= Stage(members[size_t(capped++)]).max_rate;
      pool.level = capped < k ? left / double(k - capped) : 0;
      for (int i = 0; i < capped; ++i) Place(members[size_t(i)], pool, true, Stage(members[size_t(i)]).max_rate);
      // Ops that were capped and no longer are follow the new prefix, up to
      // the first op that was already shared; new ops can be anywhere.
      for (int i = capped; i < k && runs_[size_t(members[size_t(i)])].mode == Mode::kFixed; ++i)
        Place(members[size_t(i)], pool, false, 0);
      for (int s : pool.joined)
        if (runs_[size_t(s)].mode == Mode::kFixed && runs_[size_t(s)].rate == 0) Place(s, pool, false, 0);
      pool.joined.clear();
      QueueDue(int(p), pool);
    }
  }

  // Queues a moment for the pool's first live mark at the current level.
  void QueueDue(int p, PoolRun& pool) {
    ++pool.version;
    while (!pool.marks.empty()) {
      const VirtualMark& mark = pool.marks.top();
      const StageRun& run = runs_[size_t(mark.stage)];
      if (run.mode == Mode::kShared && run.version == mark.version) break;
      pool.marks.pop();
    }
    if (pool.marks.empty() || pool.level <= 0) return;
    pool.due = pool.marks.top();
    const double t = now_ + std::max(0.0, pool.due.v - pool.v) / pool.level;
    queue_.push(Moment{t, Moment::kPoolDue, p, pool.version});
  }

  Status Deadlock() const {
    std::string msg = "simulation deadlocked at t=" + Num(now_) + ":";
    for (size_t s = 0; s < runs_.size(); ++s) {
      const StageRun& run = runs_[s];
      if (run.next >= run.ops.size()) continue;
      const Op& op = run.ops[run.next];
      msg += " stages[" + std::to_string(s) + "] (" + in_.stages[s].name + ") waits to run " + op.kind +
             std::to_string(op.mb) + ";";
    }
    return Status::Internal(msg + " (a warm-up grows along the chain)");
  }

  SimResult Finish() {
    SimResult r;
    double weighted_busy = 0, devices = 0;
    for (size_t s = 0; s < runs_.size(); ++s) {
      r.busy.push_back(runs_[s].busy);
      weighted_busy += in_.stages[s].devices * runs_[s].busy;
      devices += in_.stages[s].devices;
    }
    for (const SimEvent& e : events_) r.step_seconds = std::max(r.step_seconds, e.end);
    if (r.step_seconds > 0 && devices > 0) r.bubble_fraction = 1 - weighted_busy / (devices * r.step_seconds);
    std::stable_sort(events_.begin(), events_.end(), [](const SimEvent& a, const SimEvent& b) {
      return a.start != b.start ? a.start < b.start : a.stage < b.stage;
    });
    r.events = std::move(events_);
    return r;
  }

  const SimInput& in_;
  std::vector<StageRun> runs_;
  std::vector<PoolRun> pools_;
  std::priority_queue<Moment, std::vector<Moment>, MomentLater> queue_;
  std::vector<int> touched_;  // stages that may be able to start their next op now
  std::vector<SimEvent> events_;
  size_t total_ops_ = 0, done_ops_ = 0;
  double now_ = 0;
};

// ---------------------------------------------------------------------------
// Trace

std::string EventName(const SimEvent& e) {
  switch (e.kind) {
    case 'X':
      return "FB" + std::to_string(e.mb);
    case 'A':
      return "allreduce " + std::to_string(e.mb);
    case 'O':
      return "optimizer";
    default:
      return std::string(1, e.kind) + std::to_string(e.mb);
  }
}

nlohmann::json ThreadName(int tid, const std::string& name) {
  return {{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", tid}, {"args", {{"name", name}}}};
}

nlohmann::json ThreadSortIndex(int tid, int index) {
  return {{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", 1}, {"tid", tid}, {"args", {{"sort_index", index}}}};
}

constexpr int kAllReduceTid = 1000;  // all-reduce track of stage s: tid 1000 + s

}  // namespace

StatusOr<SimResult> Simulate(const SimInput& in) {
  RETURN_IF_ERROR(Validate(in));
  Simulation sim(in);
  return sim.Run();
}

std::string SimTraceJson(const SimInput& in, const SimResult& r) {
  nlohmann::json events = nlohmann::json::array();
  // Tracks in chain order, each stage's all-reduce right under its compute.
  for (size_t s = 0; s < in.stages.size(); ++s) {
    const int tid = int(s);
    events.push_back(ThreadName(tid, in.stages[s].name));
    events.push_back(ThreadSortIndex(tid, 2 * tid));
    if (in.stages[s].allreduce > 0) {
      events.push_back(ThreadName(kAllReduceTid + tid, in.stages[s].name + " all-reduce"));
      events.push_back(ThreadSortIndex(kAllReduceTid + tid, 2 * tid + 1));
    }
  }
  for (const SimEvent& e : r.events) {
    nlohmann::json ev = {{"name", EventName(e)},
                         {"ph", "X"},
                         {"pid", 1},
                         {"tid", e.kind == 'A' ? kAllReduceTid + e.stage : e.stage},
                         {"ts", e.start * 1e6},
                         {"dur", (e.end - e.start) * 1e6}};
    if (e.mb >= 0) ev["args"] = {{e.kind == 'A' ? "bucket" : "mb", e.mb}};
    events.push_back(std::move(ev));
  }
  return nlohmann::json{{"traceEvents", std::move(events)}}.dump();
}

}  // namespace braid::plan
