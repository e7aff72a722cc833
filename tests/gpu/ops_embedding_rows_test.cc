// CUDA embedding, position add, row ops and patchify against the CPU kernels
// (ops/cpu/embedding.h, rows.h, patch.h), fp32 and bf16, on fresh random
// inputs (gpu_compare.h) at odd sizes. The embedding backward sums each id's
// rows in row order, like the CPU: in fp32 the results are equal bit for
// bit, with many repeated ids too, and two runs give the same bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "common/ops/cpu/embedding.h"
#include "common/ops/cpu/patch.h"
#include "common/ops/cpu/rows.h"
#include "common/ops/cpu/vocab_parallel.h"
#include "common/ops/cuda/dtype.h"
#include "common/ops/cuda/embedding.h"
#include "common/ops/cuda/patch.h"
#include "common/ops/cuda/rows.h"
#include "tests/gpu/gpu_fixture.h"

namespace braid::gputest {
namespace {

using cuda::bf16;

class EmbeddingRowsGpuTest : public GpuTest {};

constexpr bool kExact = true;

template <typename T>
std::vector<float> Rounded(std::vector<float> v) {
  if constexpr (std::is_same_v<T, bf16>) return RoundBf16(v);
  return v;
}

template <typename T>
std::vector<T> AsT(const std::vector<float>& v) {
  if constexpr (std::is_same_v<T, bf16>) return ToBf16(v); else return v;
}

std::string Name(const char* op, int64_t a, int64_t b, bool is_bf16) {
  return std::string(op) + " " + std::to_string(a) + "x" + std::to_string(b) + (is_bf16 ? " bf16" : " fp32");
}

// GPU result against the CPU's: fp32 moves and fp32 sums in the CPU's order
// are exact; bf16 within its bound.
template <typename T>
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, bool exact_in_fp32) {
  if (std::is_same_v<T, float> && exact_in_fp32) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "element " << i;
  } else {
    const double bound = std::is_same_v<T, bf16> ? kBf16Bound : kFp32Bound;
    EXPECT_LE(NormalisedError(got, want), bound);
  }
}

// `n` ids in [0, V): uniform, or when `skewed`, nine in ten are id 0 (a
// padding-like token repeated all over the batch).
std::vector<int32_t> RandomIds(int64_t n, int32_t V, uint64_t seed, bool skewed = false) {
  std::mt19937_64 g(seed);
  std::uniform_int_distribution<int32_t> d(0, V - 1);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = (skewed && g() % 10 != 0) ? 0 : d(g);
  return ids;
}

template <typename T>
void CheckEmbedding(GpuTest* t, int64_t N, int64_t C, int32_t V, bool skewed) {
  SCOPED_TRACE(Name("embedding", N, C, std::is_same_v<T, bf16>) + (skewed ? " skewed" : ""));
  const uint64_t seed = TestSeed(Name("embedding", N, C, false) + std::to_string(V));
  auto ids = RandomIds(N, V, seed, skewed);
  auto table = Rounded<T>(RandomVector(V * C, seed + 1));
  auto dout = Rounded<T>(RandomVector(N * C, seed + 2));
  auto dtable0 = Rounded<T>(RandomVector(V * C, seed + 3));
  std::vector<float> out(N * C), dtable = dtable0;
  ops::embedding_forward(out.data(), ids.data(), table.data(), N, C);
  ops::embedding_backward(dtable.data(), dout.data(), ids.data(), N, C);

  auto d_ids = t->Up(ids);
  auto d_table = t->Up(AsT<T>(table));
  auto d_dout = t->Up(AsT<T>(dout));
  auto d_dtable = t->Up(AsT<T>(dtable0));
  auto d_out = t->Zeros<T>(N * C);
  ops::cuda::embedding_forward(d_out.data(), d_ids.data(), d_table.data(), N, C);
  ops::cuda::embedding_backward(d_dtable.data(), d_dout.data(), d_ids.data(), N, C);
  ExpectClose<T>(t->DownF(d_out), out, kExact);
  ExpectClose<T>(t->DownF(d_dtable), dtable, kExact);
}

TEST_F(EmbeddingRowsGpuTest, EmbeddingMatchesCpu) {
  for (int64_t N : {1, 333})
    for (int64_t C : {1, 7, 769}) {
      CheckEmbedding<float>(this, N, C, 50, false);
      CheckEmbedding<bf16>(this, N, C, 50, false);
    }
}

TEST_F(EmbeddingRowsGpuTest, EmbeddingBackwardWithManyRepeatedIds) {
  for (int64_t C : {1, 129}) {
    CheckEmbedding<float>(this, 5000, C, 3, false);
    CheckEmbedding<float>(this, 20000, C, 1000, true);
    CheckEmbedding<bf16>(this, 20000, C, 1000, true);
  }
}

// Vocabulary-parallel: a rank holding rows [vb, ve) of V; ids it does not
// hold give zero rows forward and no gradient backward; fp32 exact.
void CheckVocabEmbedding(GpuTest* t, int64_t N, int64_t C, int32_t V, int64_t vb, int64_t ve) {
  SCOPED_TRACE(Name("vocab embedding", N, C, false) + " rows " + std::to_string(vb) + ".." + std::to_string(ve));
  const uint64_t seed = TestSeed(Name("vocab embedding", N, C, false) + std::to_string(vb));
  const int64_t Vl = ve - vb;
  auto ids = RandomIds(N, V, seed, true);
  auto table = RandomVector(Vl * C, seed + 1);
  auto dout = RandomVector(N * C, seed + 2);
  auto dtable0 = RandomVector(Vl * C, seed + 3);
  std::vector<float> out(N * C), dtable = dtable0;
  ops::vocab_embedding_forward(out.data(), ids.data(), table.data(), vb, ve, N, C);
  ops::vocab_embedding_backward(dtable.data(), dout.data(), ids.data(), vb, ve, N, C);

  auto d_ids = t->Up(ids);
  auto d_table = t->Up(table);
  auto d_dout = t->Up(dout);
  auto d_dtable = t->Up(dtable0);
  auto d_out = t->Up(std::vector<float>(size_t(N * C), 7.f));  // overwritten, zeros included
  ops::cuda::vocab_embedding_forward(d_out.data(), d_ids.data(), d_table.data(), vb, ve, N, C);
  ops::cuda::vocab_embedding_backward(d_dtable.data(), d_dout.data(), d_ids.data(), vb, ve, N, C);
  ExpectClose<float>(t->DownF(d_out), out, kExact);
  ExpectClose<float>(t->DownF(d_dtable), dtable, kExact);
}

TEST_F(EmbeddingRowsGpuTest, VocabParallelEmbeddingMatchesCpu) {
  for (int64_t C : {1, 129}) {
    CheckVocabEmbedding(this, 333, C, 50, 0, 25);    // holds id 0 (most of the skewed ids)
    CheckVocabEmbedding(this, 333, C, 50, 25, 50);   // holds none of the id-0 rows
    CheckVocabEmbedding(this, 5000, C, 1000, 300, 301);
  }
}

template <typename T>
void CheckEmbeddingDeterministic(GpuTest* t) {
  const int64_t N = 20000, C = 257;
  const int32_t V = 500;
  const uint64_t seed = TestSeed("embedding determinism");
  auto d_ids = t->Up(RandomIds(N, V, seed, true));
  auto d_dout = t->Up(AsT<T>(RandomVector(N * C, seed + 1)));
  const auto dtable0 = AsT<T>(RandomVector(V * C, seed + 2));
  std::vector<T> first;
  for (int run = 0; run < 2; ++run) {
    auto d_dtable = t->Up(dtable0);
    ops::cuda::embedding_backward(d_dtable.data(), d_dout.data(), d_ids.data(), N, C);
    auto got = t->Down(d_dtable);
    if (run == 0) {
      first = got;
    } else {
      ASSERT_EQ(got.size(), first.size());
      EXPECT_EQ(std::memcmp(got.data(), first.data(), got.size() * sizeof(T)), 0);
    }
  }
}

TEST_F(EmbeddingRowsGpuTest, EmbeddingBackwardIsDeterministic) {
  CheckEmbeddingDeterministic<float>(this);
  CheckEmbeddingDeterministic<bf16>(this);
}

// Positions restart with every packed sequence (lengths 1 .. 40 here).
template <typename T>
void CheckPositions(GpuTest* t, int64_t N, int64_t C) {
  SCOPED_TRACE(Name("positions", N, C, std::is_same_v<T, bf16>));
  const int32_t P = 64;
  const uint64_t seed = TestSeed(Name("positions", N, C, false));
  std::mt19937_64 g(seed);
  std::vector<int32_t> pos(static_cast<size_t>(N));
  for (int64_t n = 0, len = 0, at = 0; n < N; ++n, ++at) {
    if (at == len) {
      at = 0;
      len = 1 + static_cast<int64_t>(g() % 40);
    }
    pos[n] = static_cast<int32_t>(at);
  }
  auto table = Rounded<T>(RandomVector(P * C, seed + 1));
  auto out0 = Rounded<T>(RandomVector(N * C, seed + 2));
  auto dout = Rounded<T>(RandomVector(N * C, seed + 3));
  auto dtable0 = Rounded<T>(RandomVector(P * C, seed + 4));
  std::vector<float> out = out0, dtable = dtable0;
  ops::add_positions_forward(out.data(), pos.data(), table.data(), N, C);
  ops::add_positions_backward(dtable.data(), dout.data(), pos.data(), N, C);

  auto d_pos = t->Up(pos);
  auto d_table = t->Up(AsT<T>(table));
  auto d_out = t->Up(AsT<T>(out0));
  auto d_dout = t->Up(AsT<T>(dout));
  auto d_dtable = t->Up(AsT<T>(dtable0));
  ops::cuda::add_positions_forward(d_out.data(), d_pos.data(), d_table.data(), N, C);
  ops::cuda::add_positions_backward(d_dtable.data(), d_dout.data(), d_pos.data(), N, C);
  ExpectClose<T>(t->DownF(d_out), out, kExact);
  ExpectClose<T>(t->DownF(d_dtable), dtable, kExact);
}

TEST_F(EmbeddingRowsGpuTest, PositionsMatchCpu) {
  for (int64_t N : {1, 333})
    for (int64_t C : {1, 7, 769}) {
      CheckPositions<float>(this, N, C);
      CheckPositions<bf16>(this, N, C);
    }
}

// n distinct rows of [0, R), in random order.
std::vector<int32_t> DistinctRows(int64_t n, int32_t R, uint64_t seed) {
  std::vector<int32_t> all(static_cast<size_t>(R));
  std::iota(all.begin(), all.end(), 0);
  std::shuffle(all.begin(), all.end(), std::mt19937_64(seed));
  all.resize(static_cast<size_t>(n));
  return all;
}

template <typename T>
void CheckRows(GpuTest* t, int64_t n, int64_t C) {
  SCOPED_TRACE(Name("rows", n, C, std::is_same_v<T, bf16>));
  const int32_t R = static_cast<int32_t>(2 * n + 3);
  const uint64_t seed = TestSeed(Name("rows", n, C, false));
  auto rows = DistinctRows(n, R, seed);
  auto big = Rounded<T>(RandomVector(R * C, seed + 1));
  auto small = Rounded<T>(RandomVector(n * C, seed + 2));
  auto bias = Rounded<T>(RandomVector(C, seed + 3));
  auto d_rows = t->Up(rows);
  auto d_small = t->Up(AsT<T>(small));
  auto d_bias = t->Up(AsT<T>(bias));

  std::vector<float> gathered(n * C);
  ops::gather_rows(gathered.data(), big.data(), rows.data(), n, C);
  auto d_big = t->Up(AsT<T>(big));
  auto d_gathered = t->Zeros<T>(n * C);
  ops::cuda::gather_rows(d_gathered.data(), d_big.data(), d_rows.data(), n, C);
  ExpectClose<T>(t->DownF(d_gathered), gathered, kExact);

  std::vector<float> scattered = big;
  ops::scatter_rows(scattered.data(), small.data(), rows.data(), n, C);
  auto d_scattered = t->Up(AsT<T>(big));
  ops::cuda::scatter_rows(d_scattered.data(), d_small.data(), d_rows.data(), n, C);
  ExpectClose<T>(t->DownF(d_scattered), scattered, kExact);

  std::vector<float> added = big;
  ops::scatter_add_rows(added.data(), small.data(), rows.data(), n, C);
  auto d_added = t->Up(AsT<T>(big));
  ops::cuda::scatter_add_rows(d_added.data(), d_small.data(), d_rows.data(), n, C);
  ExpectClose<T>(t->DownF(d_added), added, kExact);

  std::vector<float> zeroed = big;
  ops::zero_rows(zeroed.data(), rows.data(), n, C);
  auto d_zeroed = t->Up(AsT<T>(big));
  ops::cuda::zero_rows(d_zeroed.data(), d_rows.data(), n, C);
  ExpectClose<T>(t->DownF(d_zeroed), zeroed, kExact);

  std::vector<float> biased = big;
  ops::add_bias(biased.data(), bias.data(), R, C);
  auto d_biased = t->Up(AsT<T>(big));
  ops::cuda::add_bias(d_biased.data(), d_bias.data(), R, C);
  ExpectClose<T>(t->DownF(d_biased), biased, kExact);

  auto d_copied = t->Zeros<T>(n * C);
  ops::cuda::copy(d_copied.data(), d_small.data(), n * C);
  ExpectClose<T>(t->DownF(d_copied), small, kExact);

  std::vector<float> accumulated = gathered;
  ops::accumulate(accumulated.data(), small.data(), n * C);
  auto d_accumulated = t->Up(AsT<T>(gathered));
  ops::cuda::accumulate(d_accumulated.data(), d_small.data(), n * C);
  ExpectClose<T>(t->DownF(d_accumulated), accumulated, kExact);
}

TEST_F(EmbeddingRowsGpuTest, RowOpsMatchCpu) {
  for (int64_t n : {1, 333})
    for (int64_t C : {1, 7, 769}) {
      CheckRows<float>(this, n, C);
      CheckRows<bf16>(this, n, C);
    }
}

// S not a multiple of p leaves the image's last pixels out of the patches:
// unpatchify must not write them.
template <typename T>
void CheckPatch(GpuTest* t, int64_t n, int64_t S, int64_t p) {
  SCOPED_TRACE(Name("patch", S, p, std::is_same_v<T, bf16>));
  const int64_t g = S / p, rows = n * g * g * p * p;
  const uint64_t seed = TestSeed(Name("patch", S, p, false));
  auto img = Rounded<T>(RandomVector(n * S * S, seed, 0.f, 1.f));
  auto patches = Rounded<T>(RandomVector(rows, seed + 1));
  auto img0 = Rounded<T>(RandomVector(n * S * S, seed + 2));
  const float shift = 0.5f, scale = 0.25f;
  std::vector<float> out(rows), back = img0;
  ops::patchify(out.data(), img.data(), n, S, p, shift, scale);
  ops::unpatchify(back.data(), patches.data(), n, S, p);

  auto d_img = t->Up(AsT<T>(img));
  auto d_patches = t->Up(AsT<T>(patches));
  auto d_back = t->Up(AsT<T>(img0));
  auto d_out = t->Zeros<T>(rows);
  ops::cuda::patchify(d_out.data(), d_img.data(), n, S, p, shift, scale);
  ops::cuda::unpatchify(d_back.data(), d_patches.data(), n, S, p);
  ExpectClose<T>(t->DownF(d_out), out, kExact);
  ExpectClose<T>(t->DownF(d_back), back, kExact);
}

TEST_F(EmbeddingRowsGpuTest, PatchifyMatchesCpu) {
  CheckPatch<float>(this, 3, 28, 7);
  CheckPatch<bf16>(this, 3, 28, 7);
  CheckPatch<float>(this, 2, 30, 4);
  CheckPatch<bf16>(this, 2, 30, 4);
  CheckPatch<float>(this, 1, 5, 5);
  CheckPatch<float>(this, 1, 1, 1);
}

// Empty calls do nothing and record no error.
TEST_F(EmbeddingRowsGpuTest, EmptyIsANoOp) {
  ops::cuda::embedding_forward<float>(nullptr, nullptr, nullptr, 0, 8);
  ops::cuda::embedding_backward<float>(nullptr, nullptr, nullptr, 0, 8);
  ops::cuda::add_positions_backward<bf16>(nullptr, nullptr, nullptr, 5, 0);
  ops::cuda::gather_rows<float>(nullptr, nullptr, nullptr, 0, 8);
  ops::cuda::scatter_add_rows<bf16>(nullptr, nullptr, nullptr, 0, 8);
  ops::cuda::copy<float>(nullptr, nullptr, 0);
  ops::cuda::accumulate<bf16>(nullptr, nullptr, 0);
  ops::cuda::patchify<float>(nullptr, nullptr, 0, 28, 7);
  Status s = ctx_->Synchronize();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

}  // namespace
}  // namespace braid::gputest
