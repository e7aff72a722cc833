// The CUDA kernels' index arithmetic (common/ops/cuda/tile_plan.h), here on
// the CPU: the attention kernels' loops are replayed with the kernels' tile
// sizes, and every (query, key) pair a sequence needs must be visited exactly
// once, with no pair outside the sequence or the causal mask; the D kernel's
// warps must own each (row, head) once; the norms' row chunks must cover the
// rows once within gridDim.y's limit.
#include "common/ops/cuda/tile_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace braid::ops::cuda {
namespace {

// attention.cu's tile sizes.
constexpr int kFwdRows = kAttnFwdRows, kFwdKeys = kAttnFwdKeys, kDqRows = kAttnDqRows, kKvKeys = kAttnKvKeys,
              kKvRows = kAttnKvRows;

bool Wanted(bool causal, int len, int i, int j) { return i < len && j < len && (!causal || j <= i); }

// Replays the forward's (and dQ's) loops: for each query tile, the key tiles
// below AttnKeyEnd; counts the visible (query, key) pairs.
std::vector<int> QueryTileVisits(bool causal, int len, int max_seqlen, int q_rows, int k_keys) {
  std::vector<int> seen(static_cast<size_t>(len * len), 0);
  for (int tile = 0; tile < AttnTilesPerSeq(max_seqlen, q_rows); ++tile) {
    const int q0 = tile * q_rows;
    if (q0 >= len) continue;  // the kernel's early exit
    for (int r = 0; r < q_rows; ++r) {
      const int i = q0 + r;
      for (int k0 = 0; k0 < AttnKeyEnd(causal, len, q0, q_rows); k0 += k_keys)
        for (int jj = 0; jj < k_keys; ++jj) {
          const int j = k0 + jj;
          if (!AttnVisible(causal, len, i, j)) continue;
          EXPECT_LT(i, len);
          EXPECT_LT(j, len);
          ++seen[static_cast<size_t>(i * len + j)];
        }
    }
  }
  return seen;
}

// Replays dK/dV's loops: for each key tile, the query tiles from
// AttnQueryStart to the sequence end.
std::vector<int> KeyTileVisits(bool causal, int len, int max_seqlen) {
  std::vector<int> seen(static_cast<size_t>(len * len), 0);
  for (int tile = 0; tile < AttnTilesPerSeq(max_seqlen, kKvKeys); ++tile) {
    const int k0 = tile * kKvKeys;
    if (k0 >= len) continue;
    for (int r = 0; r < kKvKeys; ++r) {
      const int j = k0 + r;
      for (int q0 = AttnQueryStart(causal, k0, kKvRows); q0 < len; q0 += kKvRows)
        for (int rr = 0; rr < kKvRows; ++rr) {
          const int i = q0 + rr;
          if (!AttnVisible(causal, len, i, j)) continue;
          ++seen[static_cast<size_t>(i * len + j)];
        }
    }
  }
  return seen;
}

void ExpectEachWantedPairOnce(const std::vector<int>& seen, bool causal, int len, const char* what) {
  for (int i = 0; i < len; ++i)
    for (int j = 0; j < len; ++j)
      ASSERT_EQ(seen[static_cast<size_t>(i * len + j)], Wanted(causal, len, i, j) ? 1 : 0)
          << what << " len " << len << (causal ? " causal" : " full") << " query " << i << " key " << j;
}

TEST(CudaTilePlanTest, AttentionTilesVisitEveryNeededPairOnce) {
  for (bool causal : {false, true})
    for (int len : {0, 1, 2, 31, 32, 33, 63, 64, 65, 96, 127, 128, 129, 191, 200}) {
      for (int max_seqlen : {len, len + 1, len + 70}) {
        ExpectEachWantedPairOnce(QueryTileVisits(causal, len, max_seqlen, kFwdRows, kFwdKeys), causal, len, "forward");
        ExpectEachWantedPairOnce(QueryTileVisits(causal, len, max_seqlen, kDqRows, kFwdKeys), causal, len, "dq");
        ExpectEachWantedPairOnce(KeyTileVisits(causal, len, max_seqlen), causal, len, "dkv");
      }
    }
}

TEST(CudaTilePlanTest, CausalKeyEndNeverSkipsAKeyAQueryNeeds) {
  for (int len = 1; len < 300; ++len)
    for (int q0 = 0; q0 < len; q0 += kFwdRows) {
      const int last_query = q0 + kFwdRows - 1 < len - 1 ? q0 + kFwdRows - 1 : len - 1;
      EXPECT_GE(AttnKeyEnd(true, len, q0, kFwdRows), last_query + 1);
      EXPECT_LE(AttnKeyEnd(true, len, q0, kFwdRows), len);
      EXPECT_EQ(AttnKeyEnd(false, len, q0, kFwdRows), len);
    }
}

TEST(CudaTilePlanTest, TilesPerSeq) {
  EXPECT_EQ(AttnTilesPerSeq(0, 64), 0);
  EXPECT_EQ(AttnTilesPerSeq(-3, 64), 0);
  EXPECT_EQ(AttnTilesPerSeq(1, 64), 1);
  EXPECT_EQ(AttnTilesPerSeq(64, 64), 1);
  EXPECT_EQ(AttnTilesPerSeq(65, 64), 2);
  EXPECT_EQ(AttnTilesPerSeq(1 << 30, 64), (1 << 30) / 64);
}

TEST(CudaTilePlanTest, RowDotWarpsOwnEachRowHeadOnce) {
  const int warps = 8;  // kDThreads / 32
  for (int max_seqlen : {1, 7, 8, 9, 300})
    for (int64_t NH : {1, 3, 6, 8, 25}) {
      std::vector<int> owned(static_cast<size_t>(max_seqlen * NH), 0);
      const int64_t blocks = AttnRowDotBlocksPerSeq(max_seqlen, NH, warps);
      for (int64_t b = 0; b < blocks; ++b)
        for (int w = 0; w < warps; ++w) {
          const RowHead rh = AttnRowDotPair(b, w, warps, NH);
          ASSERT_GE(rh.head, 0);
          ASSERT_LT(rh.head, NH);
          if (rh.row >= max_seqlen) continue;  // the kernel's early exit
          ++owned[static_cast<size_t>(rh.row * NH + rh.head)];
        }
      for (int c : owned) ASSERT_EQ(c, 1) << "max_seqlen " << max_seqlen << " NH " << NH;
      // No block is wholly idle.
      EXPECT_LT(AttnRowDotPair(blocks - 1, 0, warps, NH).row, max_seqlen);
    }
}

TEST(CudaTilePlanTest, NormChunksCoverTheRowsWithinTheGridLimit) {
  for (int64_t N : {int64_t{1}, int64_t{255}, int64_t{256}, int64_t{257}, int64_t{1000}, int64_t{65535} * 256,
                    int64_t{65535} * 256 + 1, int64_t{1} << 31, (int64_t{1} << 33) + 7}) {
    const int64_t per = NormRowsPerChunk(N), chunks = NormChunks(N);
    EXPECT_GE(per, kNormMinRowsPerChunk) << N;
    EXPECT_GE(chunks, 1) << N;
    EXPECT_LE(chunks, kNormMaxChunks) << N;
    EXPECT_GE(chunks * per, N) << N;        // covered
    EXPECT_LT((chunks - 1) * per, N) << N;  // no empty chunk
  }
}

}  // namespace
}  // namespace braid::ops::cuda
