// Rank arithmetic of one module's parallel layout (docs/PARALLELISM.md):
// pure functions, no processes. A module with layout {dp, tp, pp} has
// dp * tp * pp ranks; TP is the fastest-varying coordinate, then DP, then
// PP (Megatron's default "tp-dp-pp" order), so a TP group is consecutive
// ranks and a pipeline stage is a contiguous block:
//
//   rank = (pp_stage * dp + dp_index) * tp + tp_index
//
// Worked example, {dp: 2, tp: 3, pp: 2} (12 ranks):
//   stage 0: replica 0 = ranks 0 1 2, replica 1 = ranks 3 4 5
//   stage 1: replica 0 = ranks 6 7 8, replica 1 = ranks 9 10 11
//   TP group of rank 7:  {6, 7, 8}            (same stage, same replica)
//   DP group of rank 7:  {7, 10}              (same stage, same tp index)
//   PP group of rank 7:  {1, 7}               (same replica, same tp index)
//   model-parallel group of rank 7: {0 1 2 6 7 8} (one whole replica: the
//   ranks whose gradients together make the module's, for the grad norm)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace braid::parallel {

struct Layout {
  int dp = 1, tp = 1, pp = 1;
  int world() const { return dp * tp * pp; }
  bool operator==(const Layout&) const = default;
};

struct Coord {
  int dp = 0, tp = 0, pp = 0;  // replica, tensor-parallel index, pipeline stage
  bool operator==(const Coord&) const = default;
};

// InvalidArgument unless every degree is >= 1.
Status CheckLayout(const Layout& l);

int RankOf(const Layout& l, const Coord& c);
Coord CoordOf(const Layout& l, int rank);

// The groups `rank` belongs to, as ranks in increasing order; the caller's
// position in each is its coordinate (tp, dp, pp; model-parallel: pp * tp + tp).
std::vector<int> TpGroup(const Layout& l, int rank);
std::vector<int> DpGroup(const Layout& l, int rank);
std::vector<int> PpGroup(const Layout& l, int rank);
std::vector<int> ModelParallelGroup(const Layout& l, int rank);

// A half-open range [begin, end).
struct Range {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
  bool operator==(const Range&) const = default;
};

// Part `index` of `parts` nearly equal parts of [0, n): the first n % parts
// parts are one longer. For dimensions that need not divide (the vocabulary).
Range EvenPart(int64_t n, int parts, int index);

// Pipeline stages' layers: stage s runs layers [first[s], first[s+1]).
// `explicit_layers` empty: `layers` split as evenly as possible, the extra
// layers on the *first* stages (the last stage also runs the final norm,
// the head and the loss). Otherwise it lists each stage's layer count; it
// must have `stages` entries, each >= 1, summing to `layers`
// (InvalidArgument naming `field` otherwise).
StatusOr<std::vector<int>> SplitLayers(int layers, int stages, const std::vector<int>& explicit_layers = {},
                                       const std::string& field = "layers");

// InvalidArgument "<tp_field>: T does not divide <dim_field> N" unless tp divides n.
Status CheckDivides(const std::string& tp_field, int tp, const std::string& dim_field, int64_t n);

}  // namespace braid::parallel
