// Discrete-event simulation of one training step (docs/PLANNER.md
// "Simulator"): microbatches flow through a chain of stages (the encoder,
// the LLM's pipeline stages, the generator) under braid's 1F1B schedule,
// with point-to-point transfers between stages, a bucketed DP all-reduce
// overlapped with each stage's last backward, and the optimizer step.
// Stages either own their devices or time-share a pool of CPU cores (this
// machine: every worker process competes for the same cores). Pure.
#pragma once

#include <string>
#include <vector>

#include "common/base/status.h"

namespace braid::plan {

// One stage of the chain, in forward order. Costs are seconds of work: on
// a stage with its own devices an operation of work W takes W seconds; on a
// shared pool it progresses at the rate the pool gives it (see SimInput).
struct SimStage {
  std::string name;           // trace track, e.g. "encoder", "llm.pp1", "generator"
  int warmup = 0;             // warm-up forwards before the 1F1B alternation (below); capped at the microbatch count
  bool fused = false;         // forward and backward of a microbatch are one operation of work fwd + bwd
                              // (braid's generator); only the last stage may be fused
  std::vector<double> fwd;    // per microbatch, in run order
  std::vector<double> bwd;    // per microbatch
  std::vector<double> send_fwd;  // per microbatch: transfer of this stage's forward output to the next
                                 // stage (empty = 0; ignored on the last stage)
  std::vector<double> send_bwd;  // per microbatch: transfer of this stage's input gradient to the previous
                                 // stage (empty = 0; ignored on the first stage)
  double allreduce = 0;       // DP gradient all-reduce, seconds on the network (0 = none)
  int buckets = 1;            // >= 1; bucket b (0-based) is ready when the stage's last backward is
                              // (b+1)/buckets done (fused: the bwd part of its last op, after the fwd part's
                              // work); buckets go one after another, allreduce/buckets each
  double optimizer = 0;       // work after the last bucket and the last backward
  int pool = -1;              // index into SimInput::pools, or -1: the stage has its own devices
  double max_rate = 1;        // on a pool: the most cores one of its operations can use (> 0)
  double devices = 1;         // devices (or cores) the stage occupies, weights the bubble fraction
};

struct SimInput {
  int microbatches = 0;        // >= 1; every per-microbatch vector has this length (or is empty where allowed)
  std::vector<SimStage> stages;  // >= 1
  // Shared pools: capacity in cores. At every instant the operations running
  // on a pool share it by water-filling: each gets min(its max_rate, an equal
  // share of what the capped ones leave).
  std::vector<double> pools;
};

// The schedule (the runtime's, common/worker/module_runner.cc, generalised to
// S stages): stage s runs min(warmup, M) forwards, then alternates one
// forward and one backward while forwards remain, then the remaining
// backwards, microbatches in index order; a fused stage runs FB(0), FB(1), ...
// A non-fused stage whose warm-up, capped at M - 1, exceeds its predecessor's
// deadlocks the schedule: Simulate returns Internal.
// F(s, m) needs F(s-1, m) finished (or FB when s-1 is fused, which cannot
// happen: fused is last) plus send_fwd[s-1][m]; B(s, m) needs B(s+1, m) (or
// FB(s+1, m)) finished plus stage s+1's send_bwd[m], or, on the last stage
// when it is not fused, only F(s, m). Operations of one stage never overlap.
struct SimEvent {
  int stage = 0;
  char kind = 'F';  // 'F' forward, 'B' backward, 'X' fused forward+backward, 'A' all-reduce bucket, 'O' optimizer
  int mb = -1;      // microbatch (bucket index for 'A', -1 for 'O')
  double start = 0, end = 0;
};

struct SimResult {
  double step_seconds = 0;       // when the last operation ends (any stage's; all-reduce and optimizer included)
  std::vector<double> busy;      // per stage: seconds with an F, B, X or O operation running
  double bubble_fraction = 0;    // 1 - sum(devices_s x busy_s) / (sum(devices_s) x step_seconds)
  std::vector<SimEvent> events;  // every operation, sorted by (start, stage)
};

// InvalidArgument naming the stage and field on inconsistent input (vector
// lengths, negative costs, a fused stage that is not last, a bad pool index,
// max_rate <= 0, buckets < 1, microbatches < 1).
StatusOr<SimResult> Simulate(const SimInput& in);

// Chrome / Perfetto trace JSON ({"traceEvents": [...]}) of a result: one
// track per stage (compute) and one per stage's all-reduce, times in us.
std::string SimTraceJson(const SimInput& in, const SimResult& r);

}  // namespace braid::plan
