// Index arithmetic of the CUDA kernels' tilings and partitions, free of CUDA
// so the CPU tests check it (tests/ops_cuda_plan_test.cc): which key tiles a
// query tile of the flash attention visits (and the reverse for dK/dV),
// which (row, head) pair a warp of the D = rowsum(dO * O) kernel owns, and
// how the norms' weight-gradient reduction splits the rows into chunks.
// BRAID_HD: the kernels call the same functions.
#pragma once

#include <cstdint>

#include "common/ops/math/hd.h"

namespace braid::ops::cuda {

// --- Flash attention (attention.cu). A sequence of `len` rows is cut into
// tiles of `rows` rows; query i sees key j when j < len and, if causal,
// j <= i.

// The kernels' tile sizes (rows of queries or keys).
inline constexpr int kAttnFwdRows = 64;  // forward: queries per block
inline constexpr int kAttnFwdKeys = 32;  // forward and dQ: keys per shared-memory tile
inline constexpr int kAttnDqRows = 64;   // dQ: queries per block
inline constexpr int kAttnKvKeys = 64;   // dK/dV: keys per block
inline constexpr int kAttnKvRows = 32;   // dK/dV: queries per shared-memory tile

// Tiles covering max_seqlen rows (0 when max_seqlen <= 0).
BRAID_HD inline int AttnTilesPerSeq(int max_seqlen, int rows) {
  return max_seqlen <= 0 ? 0 : (max_seqlen + rows - 1) / rows;
}

// Keys [0, end) are streamed for the query tile starting at q0 of `q_rows`
// rows: every key any of its queries sees, and no tile past the sequence.
BRAID_HD inline int AttnKeyEnd(bool causal, int len, int q0, int q_rows) {
  const int last_query_end = q0 + q_rows;  // one past the tile's last query
  return causal && last_query_end < len ? last_query_end : len;
}

// The first query of the query tiles (of `q_rows` rows, aligned to
// multiples of q_rows) streamed for the key tile starting at k0: with a
// causal mask, queries before k0 see none of the tile.
BRAID_HD inline int AttnQueryStart(bool causal, int k0, int q_rows) { return causal ? k0 / q_rows * q_rows : 0; }

// Whether query i sees key j in a sequence of `len` rows (an i or j at or
// past len is a padding row of a partial tile: it sees nothing).
BRAID_HD inline bool AttnVisible(bool causal, int len, int i, int j) {
  return i < len && j < len && !(causal && j > i);
}

// The (row, head) pair of warp `warp` of block `block_in_seq` in the D
// kernel (warps_per_block warps per block, NH heads): pair = block * warps
// + warp, row = pair / NH, head = pair % NH.
struct RowHead {
  int64_t row;
  int64_t head;
};
BRAID_HD inline RowHead AttnRowDotPair(int64_t block_in_seq, int warp, int warps_per_block, int64_t NH) {
  const int64_t pair = block_in_seq * warps_per_block + warp;
  return {pair / NH, pair % NH};
}

// Blocks per sequence of the D kernel: max_seqlen * NH pairs, one per warp.
BRAID_HD inline int64_t AttnRowDotBlocksPerSeq(int max_seqlen, int64_t NH, int warps_per_block) {
  const int64_t pairs = int64_t{max_seqlen} * NH;
  return (pairs + warps_per_block - 1) / warps_per_block;
}

// --- Norm weight gradients (norm.cu): the rows are split into chunks, one
// per gridDim.y, of at least kNormMinRowsPerChunk rows and at most
// kNormMaxChunks chunks (gridDim.y's limit).
inline constexpr int64_t kNormMinRowsPerChunk = 256;
inline constexpr int64_t kNormMaxChunks = 65535;

BRAID_HD inline int64_t NormRowsPerChunk(int64_t N) {
  const int64_t spread = (N + kNormMaxChunks - 1) / kNormMaxChunks;
  return spread > kNormMinRowsPerChunk ? spread : kNormMinRowsPerChunk;
}

BRAID_HD inline int64_t NormChunks(int64_t N) {
  const int64_t per = NormRowsPerChunk(N);
  return (N + per - 1) / per;
}

}  // namespace braid::ops::cuda
