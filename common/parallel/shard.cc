#include "common/parallel/shard.h"

#include <algorithm>

#include "common/base/check.h"

namespace braid::parallel {
namespace {

// Calls f(full_offset, local_offset, count) for each contiguous run of the
// shard inside the row-major full tensor.
template <typename F>
void ForEachRun(const std::vector<int64_t>& shape, const ShardSpec& s, F&& f) {
  if (s.replicated()) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    f(int64_t(0), int64_t(0), n);
    return;
  }
  BRAID_CHECK(s.dim >= 0 && s.dim < int(shape.size()) && s.blocks >= 1);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < s.dim; ++d) outer *= shape[size_t(d)];
  for (size_t d = size_t(s.dim) + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t len = shape[size_t(s.dim)];
  BRAID_CHECK(len % s.blocks == 0);
  const int64_t block = len / s.blocks;
  const Range r = ShardRange(block, s);
  const int64_t local_len = r.size() * s.blocks;
  for (int64_t o = 0; o < outer; ++o)
    for (int b = 0; b < s.blocks; ++b)
      f((o * len + b * block + r.begin) * inner, (o * local_len + b * r.size()) * inner, r.size() * inner);
}

}  // namespace

Range ShardRange(int64_t block_len, const ShardSpec& s) {
  if (s.replicated()) return {0, block_len};
  if (s.even) {
    BRAID_CHECK_MSG(block_len % s.parts == 0, "a block of %lld does not split into %d parts", (long long)block_len,
                    s.parts);
    const int64_t n = block_len / s.parts;
    return {s.index * n, (s.index + 1) * n};
  }
  return EvenPart(block_len, s.parts, s.index);
}

std::vector<int64_t> LocalShape(const std::vector<int64_t>& full_shape, const ShardSpec& s) {
  if (s.replicated()) return full_shape;
  BRAID_CHECK(s.dim >= 0 && s.dim < int(full_shape.size()) && s.blocks >= 1);
  std::vector<int64_t> local = full_shape;
  const int64_t len = full_shape[size_t(s.dim)];
  BRAID_CHECK(len % s.blocks == 0);
  local[size_t(s.dim)] = ShardRange(len / s.blocks, s).size() * s.blocks;
  return local;
}

void ExtractShard(const float* full, const std::vector<int64_t>& full_shape, const ShardSpec& s, float* local) {
  ForEachRun(full_shape, s, [&](int64_t f, int64_t l, int64_t n) { std::copy(full + f, full + f + n, local + l); });
}

void InsertShard(const float* local, const std::vector<int64_t>& full_shape, const ShardSpec& s, float* full) {
  ForEachRun(full_shape, s, [&](int64_t f, int64_t l, int64_t n) { std::copy(local + l, local + l + n, full + f); });
}

}  // namespace braid::parallel
