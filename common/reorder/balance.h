// Balancing one module's units of work over its DP ranks (multiway number
// partitioning, min-max): LPT, refined by Karmarkar–Karp differencing and
// pairwise exchanges, under an optional per-rank memory cap; and the lower
// bound the results are measured against. Pure functions.
#pragma once

#include <cstdint>
#include <vector>

namespace braid::reorder {

struct Partition {
  std::vector<int32_t> rank_of;  // per unit
  std::vector<double> load;      // per rank: sum of its units' weights
  double max_load() const;
};

// Optional memory limit: unit i uses mem[i] (e.g. tokens) and no rank may
// exceed cap. mem empty or cap <= 0: no limit.
struct MemoryCap {
  std::vector<int64_t> mem;
  int64_t cap = 0;
  bool active() const { return cap > 0 && !mem.empty(); }
};

// Longest processing time first: heaviest unit onto the least loaded rank
// (ties: lower rank; equal weights: lower index first), skipping ranks the
// unit would push over the cap (if no rank fits, the least loaded by
// memory). Deterministic.
Partition LptPartition(const std::vector<double>& w, int ranks, const MemoryCap& cap = {});

// The best of LPT and (with fewer than 8 units per rank) Karmarkar–Karp
// differencing, then pairwise moves and
// swaps between the most loaded rank and the others while they lower the
// maximum (respecting the cap). Stops early once within 0.1% of
// PartitionLowerBound. Never worse than LptPartition.
Partition BalancedPartition(const std::vector<double>& w, int ranks, const MemoryCap& cap = {});

// Lower bound on the maximum rank load of any partition of w over `ranks`:
// the largest of the mean load and, for every j >= 0 with j*ranks+1 <= n,
// the sum of the j+1 smallest among the j*ranks+1 heaviest units (some rank
// must hold j+1 of them).
double PartitionLowerBound(const std::vector<double>& w, int ranks);

}  // namespace braid::reorder
