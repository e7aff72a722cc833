#include "common/parallel/layout.h"

#include "common/base/check.h"

namespace braid::parallel {

Status CheckLayout(const Layout& l) {
  if (l.dp < 1 || l.tp < 1 || l.pp < 1)
    return Status::InvalidArgument("layout {dp: " + std::to_string(l.dp) + ", tp: " + std::to_string(l.tp) +
                                   ", pp: " + std::to_string(l.pp) + "}: every degree must be >= 1");
  return Status::Ok();
}

int RankOf(const Layout& l, const Coord& c) {
  BRAID_CHECK(c.dp >= 0 && c.dp < l.dp && c.tp >= 0 && c.tp < l.tp && c.pp >= 0 && c.pp < l.pp);
  return (c.pp * l.dp + c.dp) * l.tp + c.tp;
}

Coord CoordOf(const Layout& l, int rank) {
  BRAID_CHECK(rank >= 0 && rank < l.world());
  Coord c;
  c.tp = rank % l.tp;
  c.dp = (rank / l.tp) % l.dp;
  c.pp = rank / (l.tp * l.dp);
  return c;
}

std::vector<int> TpGroup(const Layout& l, int rank) {
  Coord c = CoordOf(l, rank);
  std::vector<int> g;
  for (c.tp = 0; c.tp < l.tp; ++c.tp) g.push_back(RankOf(l, c));
  return g;
}

std::vector<int> DpGroup(const Layout& l, int rank) {
  Coord c = CoordOf(l, rank);
  std::vector<int> g;
  for (c.dp = 0; c.dp < l.dp; ++c.dp) g.push_back(RankOf(l, c));
  return g;
}

std::vector<int> PpGroup(const Layout& l, int rank) {
  Coord c = CoordOf(l, rank);
  std::vector<int> g;
  for (c.pp = 0; c.pp < l.pp; ++c.pp) g.push_back(RankOf(l, c));
  return g;
}

std::vector<int> ModelParallelGroup(const Layout& l, int rank) {
  Coord c = CoordOf(l, rank);
  std::vector<int> g;
  for (c.pp = 0; c.pp < l.pp; ++c.pp)
    for (c.tp = 0; c.tp < l.tp; ++c.tp) g.push_back(RankOf(l, c));
  return g;
}

Range EvenPart(int64_t n, int parts, int index) {
  BRAID_CHECK(parts >= 1 && index >= 0 && index < parts && n >= 0);
  const int64_t base = n / parts, extra = n % parts;
  const int64_t begin = index * base + std::min<int64_t>(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

StatusOr<std::vector<int>> SplitLayers(int layers, int stages, const std::vector<int>& explicit_layers,
                                       const std::string& field) {
  if (stages < 1) return Status::InvalidArgument(field + ": " + std::to_string(stages) + " pipeline stages");
  if (layers < stages)
    return Status::InvalidArgument(field + ": " + std::to_string(layers) + " layers cannot fill " +
                                   std::to_string(stages) + " pipeline stages (each needs at least one)");
  std::vector<int> first(size_t(stages) + 1, 0);
  if (explicit_layers.empty()) {
    for (int s = 0; s < stages; ++s) first[size_t(s) + 1] = int(EvenPart(layers, stages, s).end);
    return first;
  }
  if (int(explicit_layers.size()) != stages)
    return Status::InvalidArgument(field + ": " + std::to_string(explicit_layers.size()) + " entries for " +
                                   std::to_string(stages) + " pipeline stages");
  for (int s = 0; s < stages; ++s) {
    const int n = explicit_layers[size_t(s)];
    if (n < 1)
      return Status::InvalidArgument(field + "[" + std::to_string(s) + "]: " + std::to_string(n) +
                                     " layers; every stage needs at least one");
    first[size_t(s) + 1] = first[size_t(s)] + n;
  }
  if (first.back() != layers)
    return Status::InvalidArgument(field + ": the stages' layers sum to " + std::to_string(first.back()) +
                                   ", the model has " + std::to_string(layers));
  return first;
}

Status CheckDivides(const std::string& tp_field, int tp, const std::string& dim_field, int64_t n) {
  if (tp < 1 || n % tp != 0)
    return Status::InvalidArgument(tp_field + ": " + std::to_string(tp) + " does not divide " + dim_field + " " +
                                   std::to_string(n));
  return Status::Ok();
}

}  // namespace braid::parallel
