// Measured cost coefficients (`braid profile` writes them, the reorderer and
// `braid reorder --profile` read them): the same CostModel as the FLOP
// defaults, in seconds on the profiled backend. Also the least-squares fit
// the profiler uses.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/base/status.h"
#include "common/reorder/cost_model.h"

namespace braid::reorder {

// Reads a profile YAML:
//   encoder: {linear: S, attention: S}    # seconds per image: linear*P + attention*P^2
//   llm: {linear: S, attention: S}        # seconds per sample: linear*T + attention*T^2
//   generator: {target: S}                # seconds per generation target
//   backward_ratio: R                     # backward / forward
// (backend, threads and model are informational; other keys are errors). Every
// number >= 0 (backward_ratio > 0). InvalidArgument naming the file and the
// field.
StatusOr<CostModel> LoadCostProfile(const std::string& path);

// The whole profile: the costs (on one thread) plus, optionally,
//   threads: N                                     # the threads of the speedups
//   speedup: {encoder: X, llm: Y, generator: Z}   # one rank's compute on N threads vs 1 (> 0)
// which the planner uses for workers that compute on several threads, and
//   runtime_overhead: F                            # > 0, default 1
// the runtime's compute time per profiled kernel time (data handling,
// copies, thread teams and polling that the kernel timings leave out),
// measured on a reference layout by bench/plan_vs_runtime.sh; the planner
// multiplies every cost by it (docs/PLANNER.md "Simulator against reality").
struct CostProfile {
  CostModel cost;
  int threads = 1;
  double speedup[3] = {1, 1, 1};  // encoder, llm, generator
  double runtime_overhead = 1.0;
};
StatusOr<CostProfile> LoadFullCostProfile(const std::string& path);

// The profile YAML with a header comment and informational keys.
std::string CostProfileYaml(const CostProfile& p, const std::string& backend, const std::string& model);

// Least squares for y = a*x + b*x^2 (no constant term) over points (x, y);
// negative coefficients are clamped to 0 and the other refitted (a cost can
// not fall with size). Needs at least one point with x > 0.
std::pair<double, double> FitLinearQuadratic(const std::vector<std::pair<double, double>>& points);

}  // namespace braid::reorder
