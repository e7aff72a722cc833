// How a tensor-parallel rank's local slice of a parameter relates to the
// full tensor of the single-process model (docs/PARALLELISM.md, "Tensor
// parallelism"). Initialisation, checkpoints and the equivalence tests all
// go through these functions, so a rank's slice is always the same numbers
// as the matching part of the full tensor.
#pragma once

#include <cstdint>
#include <vector>

#include "common/parallel/layout.h"

namespace braid::parallel {

struct ShardSpec {
  int dim = -1;      // split dimension (0: rows, 1: columns); -1: replicated
  int parts = 1;     // the TP degree
  int index = 0;     // this rank's part
  int blocks = 1;    // the split dim is `blocks` equal blocks, each split on its own
                     // ([q|k|v] rows of a fused qkv: 3; [a|b] of a SwiGLU fc: 2)
  bool even = true;  // each block must divide by `parts`; false: EvenPart ranges (the vocabulary)

  bool replicated() const { return dim < 0 || parts == 1; }
  bool operator==(const ShardSpec&) const = default;
};

// Column-parallel rows (dim 0) / row-parallel columns (dim 1) of part `index` of `parts`.
inline ShardSpec SplitRows(int parts, int index, int blocks = 1, bool even = true) {
  return {0, parts, index, blocks, even};
}
inline ShardSpec SplitCols(int parts, int index) { return {1, parts, index, 1, true}; }

// The range of block-relative indices along the split dim that this part holds.
Range ShardRange(int64_t block_len, const ShardSpec& s);

// The local shape; CHECK-fails when the spec does not fit (a block that does
// not divide with even = true, dim out of range): configs are validated first.
std::vector<int64_t> LocalShape(const std::vector<int64_t>& full_shape, const ShardSpec& s);

// local = this part of full (row-major, full_shape).
void ExtractShard(const float* full, const std::vector<int64_t>& full_shape, const ShardSpec& s, float* local);
// The inverse: writes local into its place in full (the rest untouched).
void InsertShard(const float* local, const std::vector<int64_t>& full_shape, const ShardSpec& s, float* full);

}  // namespace braid::parallel
