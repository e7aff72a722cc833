// The step simulator (common/plan/simulator.h): hand-computed timelines,
// agreement with schedule::OneFOneBMakespan (the exact 3-stage schedule),
// transfers, bucketed all-reduce, shared pools, outputs and validation.
#include "common/plan/simulator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/schedule/pipeline.h"

namespace braid::plan {
namespace {

SimStage Stage(const std::string& name, int warmup, std::vector<double> fwd, std::vector<double> bwd,
               bool fused = false) {
  SimStage s;
  s.name = name;
  s.warmup = warmup;
  s.fused = fused;
  s.fwd = std::move(fwd);
  s.bwd = std::move(bwd);
  return s;
}

SimInput Input(int microbatches, std::vector<SimStage> stages, std::vector<double> pools = {}) {
  SimInput in;
  in.microbatches = microbatches;
  in.stages = std::move(stages);
  in.pools = std::move(pools);
  return in;
}

SimResult SimOk(const SimInput& in) {
  StatusOr<SimResult> r = Simulate(in);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : SimResult{};
}

// The event of stage s, kind, microbatch (or bucket) mb; fails when absent.
SimEvent Find(const SimResult& r, int stage, char kind, int mb) {
  for (const SimEvent& e : r.events)
    if (e.stage == stage && e.kind == kind && e.mb == mb) return e;
  ADD_FAILURE() << "no event " << kind << mb << " on stage " << stage;
  return SimEvent{};
}

void ExpectSpan(const SimResult& r, int stage, char kind, int mb, double start, double end) {
  const SimEvent e = Find(r, stage, kind, mb);
  EXPECT_NEAR(e.start, start, 1e-9) << kind << mb << " on stage " << stage;
  EXPECT_NEAR(e.end, end, 1e-9) << kind << mb << " on stage " << stage;
}

// Two stages, two microbatches: "a" (warm-up 1: F0 F1 B0 B1) and "b", the
// last stage, not fused (warm-up 0: F0 B0 F1 B1).
SimInput TwoByTwo() {
  return Input(2, {Stage("a", 1, {1, 2}, {3, 1}), Stage("b", 0, {2, 1}, {1, 2})});
}

TEST(SimulatorSchedule, TwoStagesTwoMicrobatchesByHand) {
  // a.F0 0-1, a.F1 1-3; b.F0 1-3 (after a.F0), b.B0 3-4, b.F1 4-5 (a.F1
  // ended at 3, b free at 4), b.B1 5-7; a.B0 4-7 (after b.B0), a.B1 7-8.
  const SimResult r = SimOk(TwoByTwo());
  EXPECT_DOUBLE_EQ(r.step_seconds, 8);
  ExpectSpan(r, 0, 'F', 0, 0, 1);
  ExpectSpan(r, 0, 'F', 1, 1, 3);
  ExpectSpan(r, 1, 'F', 0, 1, 3);
  ExpectSpan(r, 1, 'B', 0, 3, 4);
  ExpectSpan(r, 1, 'F', 1, 4, 5);
  ExpectSpan(r, 1, 'B', 1, 5, 7);
  ExpectSpan(r, 0, 'B', 0, 4, 7);
  ExpectSpan(r, 0, 'B', 1, 7, 8);
  ASSERT_EQ(r.busy.size(), 2u);
  EXPECT_DOUBLE_EQ(r.busy[0], 7);  // 1 + 2 + 3 + 1
  EXPECT_DOUBLE_EQ(r.busy[1], 6);  // 2 + 1 + 1 + 2
  EXPECT_EQ(r.events.size(), 8u);
}

TEST(SimulatorSchedule, TransferDelaysByHand) {
  // a sends forwards in 0.5, b sends gradients back in 0.25:
  // a.F0 0-1, a.F1 1-3; b.F0 1.5-3.5, b.B0 3.5-4.5, b.F1 4.5-5.5 (input at
  // 3.5), b.B1 5.5-7.5; a.B0 4.75-7.75, a.B1 7.75-8.75.
  SimInput in = TwoByTwo();
  in.stages[0].send_fwd = {0.5, 0.5};
  in.stages[1].send_bwd = {0.25, 0.25};
  in.stages[0].send_bwd = {100, 100};  // first stage: ignored
  in.stages[1].send_fwd = {100, 100};  // last stage: ignored
  const SimResult r = SimOk(in);
  EXPECT_DOUBLE_EQ(r.step_seconds, 8.75);
  ExpectSpan(r, 1, 'F', 0, 1.5, 3.5);
  ExpectSpan(r, 1, 'F', 1, 4.5, 5.5);
  ExpectSpan(r, 0, 'B', 0, 4.75, 7.75);
  ExpectSpan(r, 0, 'B', 1, 7.75, 8.75);
}

TEST(SimulatorSchedule, FusedLastStageByHand) {
  // "g" fused: FB0 work 2 + 2 = 4, FB1 work 1 + 2 = 3. a.F0 0-1, a.F1 1-3;
  // g.FB0 1-5, g.FB1 5-8 (a.F1 ended at 3); a.B0 5-8, a.B1 8-9.
  const SimResult r = SimOk(Input(2, {Stage("a", 1, {1, 2}, {3, 1}), Stage("g", 0, {2, 1}, {2, 2}, true)}));
  EXPECT_DOUBLE_EQ(r.step_seconds, 9);
  ExpectSpan(r, 1, 'X', 0, 1, 5);
  ExpectSpan(r, 1, 'X', 1, 5, 8);
  ExpectSpan(r, 0, 'B', 0, 5, 8);
  ExpectSpan(r, 0, 'B', 1, 8, 9);
  EXPECT_DOUBLE_EQ(r.busy[1], 7);
}

TEST(SimulatorSchedule, SingleStage) {
  // Nothing to wait for: the step is the stage's work, no bubble.
  const SimResult plain = SimOk(Input(3, {Stage("only", 1, {1, 2, 3}, {4, 5, 6})}));
  EXPECT_DOUBLE_EQ(plain.step_seconds, 21);
  EXPECT_DOUBLE_EQ(plain.bubble_fraction, 0);
  const SimResult fused = SimOk(Input(2, {Stage("only", 0, {1, 2}, {3, 4}, true)}));
  EXPECT_DOUBLE_EQ(fused.step_seconds, 10);
  ExpectSpan(fused, 0, 'X', 1, 4, 10);
}

TEST(SimulatorSchedule, WarmupLargerThanMicrobatchesIsCapped) {
  // Warm-ups 5 and 3 with M = 2 act as 2: both stages run F0 F1 B0 B1.
  // s0.F0 0-1, s0.F1 1-2; s1.F0 1-3, s1.F1 3-5, s1.B0 5-8, s1.B1 8-11;
  // s0.B0 8-9, s0.B1 11-12.
  SimInput in = Input(2, {Stage("s0", 5, {1, 1}, {1, 1}), Stage("s1", 3, {2, 2}, {3, 3})});
  const SimResult r = SimOk(in);
  EXPECT_DOUBLE_EQ(r.step_seconds, 12);
  ExpectSpan(r, 1, 'F', 1, 3, 5);
  ExpectSpan(r, 1, 'B', 0, 5, 8);
  ExpectSpan(r, 0, 'B', 0, 8, 9);
  in.stages[0].warmup = in.stages[1].warmup = 2;
  const SimResult capped = SimOk(in);
  ASSERT_EQ(capped.events.size(), r.events.size());
  for (size_t i = 0; i < r.events.size(); ++i) {
    EXPECT_EQ(capped.events[i].kind, r.events[i].kind);
    EXPECT_DOUBLE_EQ(capped.events[i].start, r.events[i].start);
  }
}

TEST(SimulatorSchedule, OpOrderFollowsOneFOneB) {
  // Warm-up 2, M = 5: F0 F1 F2 B0 F3 B1 F4 B2 B3 B4 (the runtime's loop).
  const SimResult r = SimOk(Input(5, {Stage("s", 2, {1, 1, 1, 1, 1}, {1, 1, 1, 1, 1})}));
  std::string order;
  for (const SimEvent& e : r.events) order += e.kind + std::to_string(e.mb) + " ";
  EXPECT_EQ(order, "F0 F1 F2 B0 F3 B1 F4 B2 B3 B4 ");
}

// ---------------------------------------------------------------------------
// Agreement with schedule::OneFOneBMakespan

SimInput ThreeStage(const std::vector<schedule::MicrobatchCost>& mbs) {
  SimStage enc = Stage("encoder", 2, {}, {}), llm = Stage("llm", 1, {}, {}), gen = Stage("generator", 0, {}, {}, true);
  for (const schedule::MicrobatchCost& c : mbs) {
    enc.fwd.push_back(c.encoder.fwd);
    enc.bwd.push_back(c.encoder.bwd);
    llm.fwd.push_back(c.llm.fwd);
    llm.bwd.push_back(c.llm.bwd);
    gen.fwd.push_back(c.generator.fwd);
    gen.bwd.push_back(c.generator.bwd);
  }
  return Input(int(mbs.size()), {enc, llm, gen});
}

TEST(SimulatorSchedule, MatchesOneFOneBMakespanOnRandomThreeStageInstances) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> cost(0.0, 10.0);
  std::uniform_int_distribution<int> count(1, 8), zero(0, 9);
  auto draw = [&]() { return zero(rng) == 0 ? 0.0 : cost(rng); };  // zeros make ties
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<schedule::MicrobatchCost> mbs(size_t(count(rng)));
    for (schedule::MicrobatchCost& c : mbs) c = {{draw(), draw()}, {draw(), draw()}, {draw(), draw()}};
    const double want = schedule::OneFOneBMakespan(mbs);
    const SimResult r = SimOk(ThreeStage(mbs));
    EXPECT_NEAR(r.step_seconds, want, 1e-9 * std::max(1.0, want)) << "trial " << trial << ", M = " << mbs.size();
  }
}

// ---------------------------------------------------------------------------
// Transfers

// A random chain of 2-5 stages with non-increasing warm-ups (the last one
// fused half the time).
SimInput RandomChain(std::mt19937& rng, int M) {
  std::uniform_real_distribution<double> cost(0.0, 5.0);
  std::uniform_int_distribution<int> stages(2, 5), coin(0, 1);
  const int S = stages(rng);
  std::vector<SimStage> chain;
  for (int s = 0; s < S; ++s) {
    SimStage st = Stage("s" + std::to_string(s), S - 1 - s, {}, {}, s == S - 1 && coin(rng) == 1);
    for (int m = 0; m < M; ++m) {
      st.fwd.push_back(cost(rng));
      st.bwd.push_back(cost(rng));
    }
    chain.push_back(st);
  }
  return Input(M, chain);
}

TEST(SimulatorTransfers, NeverShortenTheStep) {
  // On own devices the step is a longest path; delays only lengthen edges.
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> delay(0.0, 2.0);
  std::uniform_int_distribution<int> count(1, 8);
  for (int trial = 0; trial < 200; ++trial) {
    SimInput in = RandomChain(rng, count(rng));
    const double without = SimOk(in).step_seconds;
    for (SimStage& st : in.stages) {
      for (int m = 0; m < in.microbatches; ++m) {
        st.send_fwd.push_back(delay(rng));
        st.send_bwd.push_back(delay(rng));
      }
    }
    EXPECT_GE(SimOk(in).step_seconds, without - 1e-12) << "trial " << trial;
  }
}

TEST(SimulatorTransfers, SingleMicrobatchChainAddsEveryTransfer) {
  // M = 1: F(a) 1, send 0.5, F(b) 2, B(b) 3, send 0.25, B(a) 4: 10.75.
  SimInput in = Input(1, {Stage("a", 0, {1}, {4}), Stage("b", 0, {2}, {3})});
  in.stages[0].send_fwd = {0.5};
  in.stages[1].send_bwd = {0.25};
  EXPECT_DOUBLE_EQ(SimOk(in).step_seconds, 10.75);
}

// ---------------------------------------------------------------------------
// All-reduce and optimizer

TEST(SimulatorAllReduce, BucketsFollowTheLastBackward) {
  // F0 0-1, B0 1-5 (work 4). 4 buckets of 2 / 4 = 0.5 s, ready at 2, 3, 4, 5
  // (B0 1/4, 2/4, 3/4, 4/4 done): A 2-2.5, 3-3.5, 4-4.5, 5-5.5. The step
  // ends at the last backward's end + allreduce / buckets = 5.5.
  SimInput in = Input(1, {Stage("s", 0, {1}, {4})});
  in.stages[0].allreduce = 2;
  in.stages[0].buckets = 4;
  const SimResult r = SimOk(in);
  EXPECT_DOUBLE_EQ(r.step_seconds, 5.5);
  ExpectSpan(r, 0, 'A', 0, 2, 2.5);
  ExpectSpan(r, 0, 'A', 3, 5, 5.5);
  EXPECT_DOUBLE_EQ(r.busy[0], 5);  // all-reduce is not compute

  // 4 buckets of 8 / 4 = 2 s: the channel is the bottleneck, A0 2-4, A1
  // 4-6, A2 6-8, A3 8-10: first bucket ready + allreduce = 10.
  in.stages[0].allreduce = 8;
  const SimResult slow = SimOk(in);
  EXPECT_DOUBLE_EQ(slow.step_seconds, 10);
  ExpectSpan(slow, 0, 'A', 3, 8, 10);

  // One bucket: it waits for the whole backward, 5 + 8 = 13.
  in.stages[0].buckets = 1;
  EXPECT_DOUBLE_EQ(SimOk(in).step_seconds, 13);
}

TEST(SimulatorAllReduce, SmallOneHiddenLargeOneExposed) {
  // TwoByTwo: b's last backward B1 runs 5-7, a's 7-8, the step 8.
  // b: 4 buckets of 0.5, ready 5.5, 6, 6.5, 7: done at 7.5 < 8, hidden.
  SimInput in = TwoByTwo();
  in.stages[1].allreduce = 2;
  in.stages[1].buckets = 4;
  const SimResult hidden = SimOk(in);
  EXPECT_DOUBLE_EQ(hidden.step_seconds, 8);
  ExpectSpan(hidden, 1, 'A', 3, 7, 7.5);
  // a: 2 buckets of 2, ready 7.5 and 8: A0 7.5-9.5, A1 9.5-11.5, exposed.
  in.stages[0].allreduce = 4;
  in.stages[0].buckets = 2;
  const SimResult exposed = SimOk(in);
  EXPECT_DOUBLE_EQ(exposed.step_seconds, 11.5);
  ExpectSpan(exposed, 0, 'A', 0, 7.5, 9.5);
}

TEST(SimulatorAllReduce, OptimizerAfterLastBucketAndBackward) {
  // F0 0-1, B0 1-3; buckets of 2 ready at 2 and 3: A0 2-4, A1 4-6; the
  // optimizer 6-6.5.
  SimInput in = Input(1, {Stage("s", 0, {1}, {2})});
  in.stages[0].allreduce = 4;
  in.stages[0].buckets = 2;
  in.stages[0].optimizer = 0.5;
  const SimResult r = SimOk(in);
  EXPECT_DOUBLE_EQ(r.step_seconds, 6.5);
  ExpectSpan(r, 0, 'O', -1, 6, 6.5);
  EXPECT_DOUBLE_EQ(r.busy[0], 3.5);
  // Without all-reduce it follows the backward: 3-3.5.
  in.stages[0].allreduce = 0;
  const SimResult no_ar = SimOk(in);
  EXPECT_DOUBLE_EQ(no_ar.step_seconds, 3.5);
  for (const SimEvent& e : no_ar.events) EXPECT_NE(e.kind, 'A');
  // Without optimizer work there is no 'O' event.
  in.stages[0].optimizer = 0;
  for (const SimEvent& e : SimOk(in).events) EXPECT_NE(e.kind, 'O');
}

TEST(SimulatorAllReduce, FusedStageBucketsFollowItsBackwardPart) {
  // FB0 0-3 (fwd 1, bwd 2); bucket b is ready when the backward part is
  // (b+1)/2 done: at 1 + 1 = 2 and 1 + 2 = 3. A0 2-4, A1 4-6: step 6.
  SimInput in = Input(1, {Stage("g", 0, {1}, {2}, true)});
  in.stages[0].allreduce = 4;
  in.stages[0].buckets = 2;
  const SimResult r = SimOk(in);
  EXPECT_DOUBLE_EQ(r.step_seconds, 6);
  ExpectSpan(r, 0, 'A', 0, 2, 4);
}

// ---------------------------------------------------------------------------
// Shared pools

TEST(SimulatorPool, TwoStagesShareOneCore) {
  // a (F0 F1 B0 B1) and fused g (FB0 FB1), every fwd and bwd 1, on one
  // core, max_rate 1 each. a.F0 alone 0-1. a.F1 (work 1) and g.FB0 (work 2)
  // at half speed: F1 ends at 3, FB0 has 1 left, alone: ends at 4. g.FB1
  // (2) and a.B0 (1) from 4 at half speed: B0 ends at 6, FB1 alone ends at
  // 7. a.B1 7-8.
  SimInput in = Input(2, {Stage("a", 1, {1, 1}, {1, 1}), Stage("g", 0, {1, 1}, {1, 1}, true)}, {1.0});
  for (SimStage& st : in.stages) st.pool = 0;
  const SimResult r = SimOk(in);
  EXPECT_NEAR(r.step_seconds, 8, 1e-9);
  ExpectSpan(r, 0, 'F', 1, 1, 3);
  ExpectSpan(r, 1, 'X', 0, 1, 4);
  ExpectSpan(r, 0, 'B', 0, 4, 6);
  ExpectSpan(r, 1, 'X', 1, 4, 7);
  ExpectSpan(r, 0, 'B', 1, 7, 8);
}

TEST(SimulatorPool, MaxRateUsesSeveralCores) {
  // Alone on a 2-core pool with max_rate 2: F 4 -> 2 s, B 2 -> 1 s.
  SimInput in = Input(1, {Stage("s", 0, {4}, {2})}, {2.0});
  in.stages[0].pool = 0;
  in.stages[0].max_rate = 2;
  EXPECT_NEAR(SimOk(in).step_seconds, 3, 1e-12);
  in.pools[0] = 8;  // capped by max_rate
  EXPECT_NEAR(SimOk(in).step_seconds, 3, 1e-12);
  in.pools[0] = 1;  // capped by the pool
  EXPECT_NEAR(SimOk(in).step_seconds, 6, 1e-12);
}

TEST(SimulatorPool, WaterFillingWithCaps) {
  // Three stages, M = 3, on 3 cores: s0 F0 F1 F2 B0 B1 B2, s1 F0 F1 B0 F2
  // B1 B2, s2 fused. s0.F0, s0.F1 and s1.F0 have no work, so at t = 0
  // s0.F2 (work 2, max_rate 0.5), s1.F1 (work 4, max_rate 1) and s2.FB0
  // (work 3, max_rate 4) run together. Water-filling: 0.5 <= 3/3 takes its
  // cap, 1 <= 2.5/2 takes its cap, s2 gets the 1.5 left: FB0 ends at 2.
  // Then s0.F2 (1 left) at 0.5 and s1.F1 (2 left) at 1 both end at 4.
  SimInput in = Input(3,
                      {Stage("s0", 2, {0, 0, 2}, {1, 1, 1}), Stage("s1", 1, {0, 4, 1}, {1, 1, 1}),
                       Stage("s2", 0, {1.5, 1, 1}, {1.5, 1, 1}, true)},
                      {3.0});
  const double caps[] = {0.5, 1, 4};
  for (int s = 0; s < 3; ++s) {
    in.stages[size_t(s)].pool = 0;
    in.stages[size_t(s)].max_rate = caps[s];
  }
  const SimResult r = SimOk(in);
  ExpectSpan(r, 2, 'X', 0, 0, 2);
  ExpectSpan(r, 0, 'F', 2, 0, 4);
  ExpectSpan(r, 1, 'F', 1, 0, 4);
}

TEST(SimulatorPool, CapsBelowAnEqualShareLeaveTheRestToOthers) {
  // Two stages on 3 cores, a capped at 0.5, g at 4 (so it takes 2.5 while
  // both run). a.F0 (1) alone at 0.5: 0-2. a.F1 (1) and g.FB0 (2): g ends
  // at 2 + 2 / 2.5 = 2.8, a.F1 has 0.6 left: ends at 4. g.FB1 (2) and a.B0
  // (1) from 4: FB1 ends at 4.8, B0 at 6. a.B1 (1) 6-8.
  SimInput in = Input(2, {Stage("a", 1, {1, 1}, {1, 1}), Stage("g", 0, {1, 1}, {1, 1}, true)}, {3.0});
  in.stages[0].pool = in.stages[1].pool = 0;
  in.stages[0].max_rate = 0.5;
  in.stages[1].max_rate = 4;
  const SimResult r = SimOk(in);
  ExpectSpan(r, 1, 'X', 0, 2, 2.8);
  ExpectSpan(r, 0, 'F', 1, 2, 4);
  ExpectSpan(r, 1, 'X', 1, 4, 4.8);
  ExpectSpan(r, 0, 'B', 1, 6, 8);
  EXPECT_NEAR(r.step_seconds, 8, 1e-9);
}

TEST(SimulatorPool, BucketsFollowWorkProgressUnderSharing) {
  // TwoStagesShareOneCore with g's all-reduce: its last op FB1 (fwd 1,
  // bwd 1) runs 4-6 at half speed (1 work done at 6), then alone 6-7. Its
  // 2 buckets are ready at bwd 1/2 and 2/2 done: work 1.5 at 6.5 and 2 at
  // 7. Buckets of 1 s: A0 6.5-7.5, A1 7.5-8.5: step 8.5 (a ends at 8).
  SimInput in = Input(2, {Stage("a", 1, {1, 1}, {1, 1}), Stage("g", 0, {1, 1}, {1, 1}, true)}, {1.0});
  for (SimStage& st : in.stages) st.pool = 0;
  in.stages[1].allreduce = 2;
  in.stages[1].buckets = 2;
  const SimResult r = SimOk(in);
  ExpectSpan(r, 1, 'A', 0, 6.5, 7.5);
  ExpectSpan(r, 1, 'A', 1, 7.5, 8.5);
  EXPECT_NEAR(r.step_seconds, 8.5, 1e-9);
}

TEST(SimulatorPool, StagesOnOwnDevicesAreUnaffected) {
  // A stage with pool -1 ignores the pool; the pooled one alone gets min(1, 1).
  SimInput in = TwoByTwo();
  in.pools = {1.0};
  in.stages[1].pool = 0;
  EXPECT_DOUBLE_EQ(SimOk(in).step_seconds, 8);
}

// ---------------------------------------------------------------------------
// Outputs

TEST(SimulatorOutputs, BubbleFractionByHand) {
  // TwoByTwo: busy 7 and 6 of 8 s: 1 - 13 / 16. Weighted by 3 and 1
  // devices: 1 - (21 + 6) / (4 x 8) = 5 / 32.
  SimInput in = TwoByTwo();
  EXPECT_DOUBLE_EQ(SimOk(in).bubble_fraction, 3.0 / 16);
  in.stages[0].devices = 3;
  EXPECT_DOUBLE_EQ(SimOk(in).bubble_fraction, 5.0 / 32);
}

// Random chains with pools, transfers, all-reduce and optimizers.
SimInput RandomRichChain(std::mt19937& rng) {
  std::uniform_int_distribution<int> count(1, 6), coin(0, 1), buckets(1, 4);
  std::uniform_real_distribution<double> u(0.0, 2.0);
  SimInput in = RandomChain(rng, count(rng));
  in.pools = {1.0 + u(rng), 0.5 + u(rng)};
  for (SimStage& st : in.stages) {
    st.pool = coin(rng) ? -1 : coin(rng);
    st.max_rate = 0.25 + u(rng);
    st.allreduce = coin(rng) ? u(rng) : 0;
    st.buckets = buckets(rng);
    st.optimizer = coin(rng) ? u(rng) : 0;
    if (coin(rng))
      for (int m = 0; m < in.microbatches; ++m) st.send_fwd.push_back(u(rng));
  }
  return in;
}

TEST(SimulatorOutputs, EventsSortedAndStagesNeverOverlap) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    const SimInput in = RandomRichChain(rng);
    const SimResult r = SimOk(in);
    const size_t S = in.stages.size(), M = size_t(in.microbatches);
    std::vector<std::vector<SimEvent>> compute(S), network(S);
    double last_end = 0;
    for (size_t i = 0; i < r.events.size(); ++i) {
      const SimEvent& e = r.events[i];
      if (i > 0) {
        const SimEvent& p = r.events[i - 1];
        EXPECT_TRUE(p.start < e.start || (p.start == e.start && p.stage <= e.stage)) << "trial " << trial;
      }
      EXPECT_LE(e.start, e.end);
      last_end = std::max(last_end, e.end);
      (e.kind == 'A' ? network : compute)[size_t(e.stage)].push_back(e);
    }
    EXPECT_DOUBLE_EQ(r.step_seconds, last_end);
    EXPECT_GE(r.bubble_fraction, -1e-12);
    EXPECT_LT(r.bubble_fraction, 1);
    for (size_t s = 0; s < S; ++s) {
      const SimStage& st = in.stages[s];
      const size_t ops = (st.fused ? M : 2 * M) + (st.optimizer > 0 ? 1 : 0);
      EXPECT_EQ(compute[s].size(), ops) << "trial " << trial << " stage " << s;
      EXPECT_EQ(network[s].size(), st.allreduce > 0 ? size_t(st.buckets) : 0u);
      double busy = 0;
      for (size_t i = 0; i < compute[s].size(); ++i) busy += compute[s][i].end - compute[s][i].start;
      for (size_t i = 1; i < compute[s].size(); ++i)
        EXPECT_LE(compute[s][i - 1].end, compute[s][i].start + 1e-12) << "trial " << trial;
      for (size_t i = 1; i < network[s].size(); ++i) EXPECT_LE(network[s][i - 1].end, network[s][i].start + 1e-12);
      EXPECT_NEAR(r.busy[s], busy, 1e-9);
    }
  }
}

TEST(SimulatorOutputs, TraceJsonNamesEveryTrack) {
  SimInput in = TwoByTwo();
  in.stages[0].allreduce = 1;
  in.stages[0].optimizer = 0.5;
  const SimResult r = SimOk(in);
  const nlohmann::json trace = nlohmann::json::parse(SimTraceJson(in, r));
  ASSERT_TRUE(trace.contains("traceEvents"));
  std::map<int, std::string> names;
  std::set<int> used;
  std::set<std::string> event_names;
  size_t spans = 0;
  for (const nlohmann::json& e : trace["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") {
      EXPECT_TRUE(names.emplace(e["tid"].get<int>(), e["args"]["name"].get<std::string>()).second);
    } else if (e["ph"] == "X") {
      ++spans;
      used.insert(e["tid"].get<int>());
      event_names.insert(e["name"].get<std::string>());
      EXPECT_GE(e["dur"].get<double>(), 0);
    }
  }
  EXPECT_EQ(spans, r.events.size());
  const std::map<int, std::string> want = {{0, "a"}, {1, "b"}, {1000, "a all-reduce"}};
  EXPECT_EQ(names, want);
  for (int tid : used) EXPECT_TRUE(names.count(tid)) << tid;
  for (const char* n : {"F0", "B1", "allreduce 0", "optimizer"}) EXPECT_TRUE(event_names.count(n)) << n;
  // Times in microseconds: a.B1 runs 7-8 s.
  bool found = false;
  for (const nlohmann::json& e : trace["traceEvents"])
    if (e["ph"] == "X" && e["name"] == "B1" && e["tid"] == 0) {
      found = true;
      EXPECT_DOUBLE_EQ(e["ts"].get<double>(), 7e6);
      EXPECT_DOUBLE_EQ(e["dur"].get<double>(), 1e6);
    }
  EXPECT_TRUE(found);
  // Fused ops are "FB<m>".
  const SimInput fused = Input(1, {Stage("g", 0, {1}, {1}, true)});
  EXPECT_NE(SimTraceJson(fused, SimOk(fused)).find("\"FB0\""), std::string::npos);
}

// ---------------------------------------------------------------------------
// A naive reference: every moment, water-fill every pool from scratch and
// step to the next end, input arrival or bucket threshold. Slow and simple;
// Simulate must agree with it event for event.

struct RefOp {
  char kind;
  int mb;
  double work;
};

std::vector<RefOp> RefOps(const SimStage& st, int M) {
  std::vector<RefOp> ops;
  if (st.fused) {
    for (int m = 0; m < M; ++m) ops.push_back({'X', m, st.fwd[size_t(m)] + st.bwd[size_t(m)]});
  } else {
    int f = 0, b = 0;
    for (; f < std::min(st.warmup, M); ++f) ops.push_back({'F', f, st.fwd[size_t(f)]});
    for (; f < M; ++f, ++b) {
      ops.push_back({'F', f, st.fwd[size_t(f)]});
      ops.push_back({'B', b, st.bwd[size_t(b)]});
    }
    for (; b < M; ++b) ops.push_back({'B', b, st.bwd[size_t(b)]});
  }
  if (st.optimizer > 0) ops.push_back({'O', -1, st.optimizer});
  return ops;
}

double Send(const std::vector<double>& v, int m) { return v.empty() ? 0 : v[size_t(m)]; }

std::vector<SimEvent> ReferenceEvents(const SimInput& in) {
  const int S = int(in.stages.size()), M = in.microbatches;
  const double kNone = -1;
  std::vector<std::vector<RefOp>> ops(in.stages.size());
  std::vector<std::vector<double>> fwd_end(size_t(S), std::vector<double>(size_t(M), kNone)), bwd_end = fwd_end;
  std::vector<size_t> next(size_t(S), 0);
  std::vector<double> rem(size_t(S), 0), start(size_t(S), 0), rate(size_t(S), 0), opt_ready(size_t(S), kNone);
  std::vector<bool> running(size_t(S), false);
  std::vector<std::vector<double>> bucket_ready(in.stages.size());
  size_t left = 0;
  for (int s = 0; s < S; ++s) {
    ops[size_t(s)] = RefOps(in.stages[size_t(s)], M);
    left += ops[size_t(s)].size();
  }
  const size_t last_compute_of_fused = size_t(M) - 1;
  auto last_compute = [&](int s) { return in.stages[size_t(s)].fused ? last_compute_of_fused : size_t(2 * M - 1); };
  auto input_ready = [&](int s) {  // kNone while unknown
    const RefOp& op = ops[size_t(s)][next[size_t(s)]];
    if (op.kind == 'O') return opt_ready[size_t(s)];
    if (op.kind != 'B') return s == 0 ? 0.0 : fwd_end[size_t(s) - 1][size_t(op.mb)] < 0 ? kNone
                                          : fwd_end[size_t(s) - 1][size_t(op.mb)] +
                                                Send(in.stages[size_t(s) - 1].send_fwd, op.mb);
    if (s + 1 == S) return 0.0;
    const double e = bwd_end[size_t(s) + 1][size_t(op.mb)];
    return e < 0 ? kNone : e + Send(in.stages[size_t(s) + 1].send_bwd, op.mb);
  };
  auto threshold = [&](int s, int b) {  // of the last compute op's work
    const SimStage& st = in.stages[size_t(s)];
    const double base = st.fused ? st.fwd[size_t(M) - 1] : 0;
    const double part = st.fused ? st.bwd[size_t(M) - 1] : st.bwd[size_t(M) - 1];
    return base + part * double(b + 1) / double(st.buckets);
  };
  std::vector<SimEvent> events;
  double t = 0;
  for (int guard = 0; left > 0 && guard < 1000000; ++guard) {
    for (int s = 0; s < S; ++s) {
      if (running[size_t(s)] || next[size_t(s)] >= ops[size_t(s)].size()) continue;
      const double r = input_ready(s);
      if (r >= 0 && r <= t) {
        running[size_t(s)] = true;
        start[size_t(s)] = t;
        rem[size_t(s)] = ops[size_t(s)][next[size_t(s)]].work;
      }
    }
    // Rates: own devices 1; pools water-filled from scratch.
    for (int s = 0; s < S; ++s) rate[size_t(s)] = in.stages[size_t(s)].pool < 0 ? 1 : 0;
    for (size_t p = 0; p < in.pools.size(); ++p) {
      std::vector<int> on;
      for (int s = 0; s < S; ++s)
        if (running[size_t(s)] && in.stages[size_t(s)].pool == int(p)) on.push_back(s);
      std::sort(on.begin(), on.end(),
                [&](int a, int b) { return in.stages[size_t(a)].max_rate < in.stages[size_t(b)].max_rate; });
      double cap_left = in.pools[p];
      for (size_t i = 0; i < on.size(); ++i) {
        rate[size_t(on[i])] = std::min(in.stages[size_t(on[i])].max_rate, cap_left / double(on.size() - i));
        cap_left -= rate[size_t(on[i])];
      }
    }
    // Step to the next moment.
    double dt = 1e300;
    for (int s = 0; s < S; ++s) {
      if (running[size_t(s)]) {
        dt = std::min(dt, rem[size_t(s)] / rate[size_t(s)]);
        const SimStage& st = in.stages[size_t(s)];
        const int b = int(bucket_ready[size_t(s)].size());
        if (next[size_t(s)] == last_compute(s) && st.allreduce > 0 && b < st.buckets) {
          const double done = ops[size_t(s)][next[size_t(s)]].work - rem[size_t(s)];
          dt = std::min(dt, std::max(0.0, threshold(s, b) - done) / rate[size_t(s)]);
        }
      } else if (next[size_t(s)] < ops[size_t(s)].size()) {
        const double r = input_ready(s);
        if (r > t) dt = std::min(dt, r - t);
      }
    }
    if (dt >= 1e300) break;  // deadlock
    t += dt;
    for (int s = 0; s < S; ++s) {
      if (!running[size_t(s)]) continue;
      const RefOp op = ops[size_t(s)][next[size_t(s)]];
      rem[size_t(s)] = std::max(0.0, rem[size_t(s)] - rate[size_t(s)] * dt);
      if (rem[size_t(s)] <= 1e-12 * (1 + op.work)) rem[size_t(s)] = 0;
      const SimStage& st = in.stages[size_t(s)];
      if (next[size_t(s)] == last_compute(s) && st.allreduce > 0) {
        while (int(bucket_ready[size_t(s)].size()) < st.buckets &&
               threshold(s, int(bucket_ready[size_t(s)].size())) <= op.work - rem[size_t(s)] + 1e-12 * (1 + op.work))
          bucket_ready[size_t(s)].push_back(t);
      }
      if (rem[size_t(s)] > 0) continue;
      events.push_back(SimEvent{s, op.kind, op.mb, start[size_t(s)], t});
      if (op.kind != 'B' && op.kind != 'O') fwd_end[size_t(s)][size_t(op.mb)] = t;
      if (op.kind != 'F' && op.kind != 'O') bwd_end[size_t(s)][size_t(op.mb)] = t;
      if (next[size_t(s)] == last_compute(s)) {
        double channel = 0;
        for (int b = 0; st.allreduce > 0 && b < st.buckets; ++b) {
          const double a = std::max(channel, bucket_ready[size_t(s)][size_t(b)]);
          channel = a + st.allreduce / st.buckets;
          events.push_back(SimEvent{s, 'A', b, a, channel});
        }
        opt_ready[size_t(s)] = std::max(t, channel);
      }
      running[size_t(s)] = false;
      ++next[size_t(s)];
      --left;
    }
  }
  return events;
}

TEST(SimulatorReference, MatchesNaiveWaterFillingOnRandomPooledChains) {
  std::mt19937 rng(17);
  for (int trial = 0; trial < 600; ++trial) {
    SimInput in = RandomRichChain(rng);
    if (trial % 2 == 1) {  // everyone on one small pool: ops move between capped and shared
      in.pools = {in.pools[0]};
      for (SimStage& st : in.stages) st.pool = 0;
    }
    const SimResult r = SimOk(in);
    const std::vector<SimEvent> want = ReferenceEvents(in);
    ASSERT_EQ(r.events.size(), want.size()) << "trial " << trial;
    for (const SimEvent& w : want) {
      const SimEvent got = Find(r, w.stage, w.kind, w.mb);
      EXPECT_NEAR(got.start, w.start, 1e-9) << "trial " << trial << ": " << w.kind << w.mb << " on " << w.stage;
      EXPECT_NEAR(got.end, w.end, 1e-9) << "trial " << trial << ": " << w.kind << w.mb << " on " << w.stage;
    }
  }
}

// ---------------------------------------------------------------------------
// Validation and deadlock

void ExpectInvalid(const SimInput& in, const std::string& field) {
  StatusOr<SimResult> r = Simulate(in);
  ASSERT_FALSE(r.ok()) << field;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().message() << " lacks " << field;
}

TEST(SimulatorValidation, EveryInvalidInputNamesItsField) {
  const SimInput good = TwoByTwo();
  ASSERT_TRUE(Simulate(good).ok());
  auto with = [&](auto edit) {
    SimInput in = good;
    edit(in);
    return in;
  };
  ExpectInvalid(with([](SimInput& in) { in.microbatches = 0; }), "microbatches");
  ExpectInvalid(with([](SimInput& in) { in.stages.clear(); }), "stages");
  ExpectInvalid(with([](SimInput& in) { in.stages[1].fwd = {1}; }), "stages[1] (b).fwd: has 1 entries, want 2");
  ExpectInvalid(with([](SimInput& in) { in.stages[0].bwd = {1, 2, 3}; }), "stages[0] (a).bwd: has 3 entries");
  ExpectInvalid(with([](SimInput& in) { in.stages[0].fwd[1] = -1; }), "stages[0] (a).fwd[1]");
  ExpectInvalid(with([](SimInput& in) { in.stages[1].bwd[0] = std::nan(""); }), "stages[1] (b).bwd[0]");
  ExpectInvalid(with([](SimInput& in) { in.stages[0].send_fwd = {1}; }),
                "stages[0] (a).send_fwd: has 1 entries, want 0 or 2");
  ExpectInvalid(with([](SimInput& in) { in.stages[1].send_bwd = {1, -1}; }), "stages[1] (b).send_bwd[1]");
  ExpectInvalid(with([](SimInput& in) { in.stages[0].allreduce = -1; }), "stages[0] (a).allreduce");
  ExpectInvalid(with([](SimInput& in) { in.stages[0].optimizer = INFINITY; }), "stages[0] (a).optimizer");
  ExpectInvalid(with([](SimInput& in) { in.stages[0].buckets = 0; }), "stages[0] (a).buckets");
  ExpectInvalid(with([](SimInput& in) { in.stages[0].fused = true; }), "stages[0] (a).fused");
  ExpectInvalid(with([](SimInput& in) { in.stages[1].pool = 0; }), "stages[1] (b).pool");
  ExpectInvalid(with([](SimInput& in) { in.stages[1].pool = -2; }), "stages[1] (b).pool");
  ExpectInvalid(with([](SimInput& in) { in.stages[0].max_rate = 0; }), "stages[0] (a).max_rate");
  ExpectInvalid(with([](SimInput& in) { in.stages[0].warmup = -1; }), "stages[0] (a).warmup");
  ExpectInvalid(with([](SimInput& in) { in.stages[1].devices = -1; }), "stages[1] (b).devices");
  ExpectInvalid(with([](SimInput& in) { in.pools = {0.0}; }), "pools[0]");
}

TEST(SimulatorValidation, GrowingWarmupDeadlocksAsInternal) {
  // a (warm-up 0): F0 B0 F1 ...; b (warm-up 1): F0 F1 B0 ... b.F1 needs
  // a.F1, after a.B0, which needs b.B0, after b.F1.
  const SimInput in = Input(3, {Stage("a", 0, {1, 1, 1}, {1, 1, 1}), Stage("b", 1, {1, 1, 1}, {1, 1, 1})});
  StatusOr<SimResult> r = Simulate(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal) << r.status().ToString();
  EXPECT_NE(r.status().message().find("deadlock"), std::string::npos) << r.status().message();
}

TEST(SimulatorValidation, DeadlocksExactlyWhenACappedWarmupGrows) {
  // simulator.h: a non-fused stage whose warm-up, capped at M - 1, exceeds
  // its predecessor's deadlocks; anything else runs.
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> warmup(0, 4), count(1, 5), coin(0, 1);
  for (int trial = 0; trial < 300; ++trial) {
    SimInput in = RandomChain(rng, count(rng));
    if (coin(rng)) in.stages.back().fused = false;
    const int M = in.microbatches, S = int(in.stages.size());
    bool grows = false;
    for (int s = 0; s < S; ++s) {
      in.stages[size_t(s)].warmup = warmup(rng);
      const bool checked = s > 0 && !in.stages[size_t(s)].fused;
      if (checked && std::min(in.stages[size_t(s)].warmup, M - 1) > std::min(in.stages[size_t(s) - 1].warmup, M - 1))
        grows = true;
    }
    StatusOr<SimResult> r = Simulate(in);
    EXPECT_EQ(r.ok(), !grows) << "trial " << trial << ": " << r.status().ToString();
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInternal);
    }
  }
}

// ---------------------------------------------------------------------------
// Size: logs the time of a planner-sized chain (not an assertion: timing
// depends on the machine).

SimInput LargeChain(int S, int M, bool pooled) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(0.5, 1.5);
  SimInput in;
  in.microbatches = M;
  if (pooled) in.pools = {16.0};
  for (int s = 0; s < S; ++s) {
    SimStage st = Stage("s" + std::to_string(s), std::min(S - 1 - s, M), {}, {}, s == S - 1);
    for (int m = 0; m < M; ++m) {
      st.fwd.push_back(u(rng));
      st.bwd.push_back(2 * u(rng));
      st.send_fwd.push_back(0.01);
      st.send_bwd.push_back(0.01);
    }
    st.allreduce = 0.5;
    st.buckets = 4;
    st.optimizer = 0.1;
    st.pool = pooled ? 0 : -1;
    st.max_rate = 1;
    in.stages.push_back(st);
  }
  return in;
}

TEST(SimulatorSize, LogsTimeOfEightyTwoStagesBySixtyFourMicrobatches) {
  for (bool pooled : {false, true}) {
    const SimInput in = LargeChain(82, 64, pooled);
    const auto t0 = std::chrono::steady_clock::now();
    const int reps = 20;
    double step = 0;
    for (int i = 0; i < reps; ++i) step = SimOk(in).step_seconds;
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
    std::printf("[simulator] 82 stages x 64 microbatches, %s: %.3f ms per Simulate (step %.3f s)\n",
                pooled ? "one shared 16-core pool" : "own devices", ms, step);
    EXPECT_GT(step, 0);
  }
}

}  // namespace
}  // namespace braid::plan
