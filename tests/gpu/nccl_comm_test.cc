// NcclComm (common/comm/nccl_comm.h, docs/NCCL.md): ranks as threads, one
// cuda::Context (one device) per rank, bootstrapped through an
// InMemoryKvStore. Every collective is checked against sums computed on the
// host; the data are small integers, exact in fp32 and bf16 whatever order
// NCCL adds them in, so results are compared exactly.
//
// One GPU runs the world-of-one cases and the failure paths (a rank that
// never joins, a rank 0 that never publishes, a malformed id); the
// multi-rank cases need 2+ GPUs and the job splits 4 (NCCL cannot place two
// ranks of one communicator on one device): ctest runs them as separate
// entries that skip on smaller machines (tests/gpu_nccl.cmake).
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/comm/cuda_event.h"
#include "common/comm/kv_store.h"
#include "common/comm/nccl_comm.h"
#include "common/comm/nccl_id.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/device_array.h"
#include "tests/gpu/gpu_compare.h"

namespace braid::comm {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using gputest::FromBf16;
using gputest::ToBf16;

constexpr std::chrono::milliseconds kTimeout = 60s;

int Devices() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

// min(#devices, 4) ranks. The multi-rank cases run as the ctest entry
// gpu_nccl_comm_multi_test, which gpu_test_main skips below 2 devices; run
// directly on a smaller machine they fail here, saying so.
int MultiRankWorld() { return std::min(Devices(), 4); }

#define ASSERT_DEVICES(n)                                                                                 \
  ASSERT_GE(Devices(), n) << "this case needs " << n << " GPUs (NCCL cannot place two ranks on one device); " \
                          << Devices() << " present"

std::string UniquePrefix(const std::string& name) {
  static std::atomic<int> counter{0};
  return "test/" + name + "/attempt-" + std::to_string(counter++) + "/";
}

// Runs body(rank) on `n` threads and joins them.
void RunRanks(int n, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) threads.emplace_back(body, r);
  for (auto& t : threads) t.join();
}

// Rank `r`'s contribution: small integers, different per rank and element.
std::vector<float> Contribution(int r, size_t n, int salt = 0) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(static_cast<int>((i * 7 + r * 13 + salt) % 17) - 8);
  return v;
}

template <typename T>
std::vector<T> As(const std::vector<float>& v);
template <>
std::vector<float> As<float>(const std::vector<float>& v) {
  return v;
}
template <>
std::vector<__nv_bfloat16> As<__nv_bfloat16>(const std::vector<float>& v) {
  return ToBf16(v);
}
std::vector<float> Widen(const std::vector<float>& v) { return v; }
std::vector<float> Widen(const std::vector<__nv_bfloat16>& v) { return FromBf16(v); }

// One rank's device state: its context (current on the thread) and its world.
struct Rank {
  std::unique_ptr<cuda::Context> ctx;
  std::unique_ptr<cuda::ScopedContext> scope;
  std::unique_ptr<NcclComm> world;

  template <typename T>
  cuda::DeviceArray<T> Up(const std::vector<T>& host) {
    auto a = cuda::Upload(host, ctx->stream());
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? std::move(*a) : cuda::DeviceArray<T>();
  }
  template <typename T>
  cuda::DeviceArray<T> Zeros(size_t n) {
    auto a = cuda::DeviceArray<T>::Alloc(static_cast<int64_t>(n), ctx->stream());
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? std::move(*a) : cuda::DeviceArray<T>();
  }
  // The compute stream waits for the comm stream, then the array comes back.
  template <typename T>
  std::vector<float> Down(NcclComm& comm, const cuda::DeviceArray<T>& a) {
    Status s = comm.ComputeWaitsForComm();
    EXPECT_TRUE(s.ok()) << s.ToString();
    s = ctx->Synchronize();
    EXPECT_TRUE(s.ok()) << s.ToString();
    auto h = cuda::Download(a, ctx->stream());
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? Widen(*h) : std::vector<float>();
  }
};

// Context on device `rank` and the world of `n` under `prefix`.
void Join(Rank* me, InMemoryKvStore& kv, const std::string& prefix, int rank, int n) {
  auto ctx = cuda::Context::Create(rank);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  me->ctx = std::move(*ctx);
  me->scope = std::make_unique<cuda::ScopedContext>(me->ctx.get());
  auto world = NcclComm::CreateWorld(kv, prefix, rank, n, *me->ctx, kTimeout);
  ASSERT_TRUE(world.ok()) << world.status().ToString();
  me->world = std::move(*world);
  EXPECT_EQ(me->world->rank(), rank);
  EXPECT_EQ(me->world->size(), n);
}

// ---- The collectives, on a world of n (1 on one GPU). ----

template <typename T>
void CheckAllReduce(Rank& me, int n, size_t count) {
  NcclComm& w = *me.world;
  auto send = me.Up(As<T>(Contribution(w.rank(), count)));
  auto recv = me.Zeros<T>(count);
  ASSERT_TRUE(w.WaitForCompute().ok());
  Status s = w.AllReduceSum(send.data(), recv.data(), count);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<float> want(count, 0.f);
  for (int r = 0; r < n; ++r) {
    const std::vector<float> c = Contribution(r, count);
    for (size_t i = 0; i < count; ++i) want[i] += c[i];
  }
  EXPECT_EQ(me.Down(w, recv), want);
  // In place.
  ASSERT_TRUE(w.WaitForCompute().ok());
  s = w.AllReduceSum(send.data(), send.data(), count);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(me.Down(w, send), want);
}

template <typename T>
void CheckReduceScatter(Rank& me, int n, size_t block) {
  NcclComm& w = *me.world;
  const int r = w.rank();
  auto send = me.Up(As<T>(Contribution(r, block * n, 1)));
  auto recv = me.Zeros<T>(block);
  ASSERT_TRUE(w.WaitForCompute().ok());
  Status s = w.ReduceScatterSum(send.data(), recv.data(), block);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<float> want(block, 0.f);
  for (int q = 0; q < n; ++q) {
    const std::vector<float> c = Contribution(q, block * n, 1);
    for (size_t i = 0; i < block; ++i) want[i] += c[r * block + i];
  }
  EXPECT_EQ(me.Down(w, recv), want);
}

template <typename T>
void CheckAllGather(Rank& me, int n, size_t block) {
  NcclComm& w = *me.world;
  auto send = me.Up(As<T>(Contribution(w.rank(), block, 2)));
  auto recv = me.Zeros<T>(block * n);
  ASSERT_TRUE(w.WaitForCompute().ok());
  Status s = w.AllGather(send.data(), recv.data(), block);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<float> want;
  for (int q = 0; q < n; ++q) {
    const std::vector<float> c = Contribution(q, block, 2);
    want.insert(want.end(), c.begin(), c.end());
  }
  EXPECT_EQ(me.Down(w, recv), want);
}

// A ring: every rank sends to the next and receives from the previous (a
// world of one sends to itself).
template <typename T>
void CheckSendRecvRing(Rank& me, int n, size_t count) {
  NcclComm& w = *me.world;
  const int r = w.rank();
  const int next = (r + 1) % n, prev = (r + n - 1) % n;
  auto send = me.Up(As<T>(Contribution(r, count, 3)));
  auto recv = me.Zeros<T>(count);
  ASSERT_TRUE(w.WaitForCompute().ok());
  Status s = w.SendRecv(send.data(), count, next, recv.data(), count, prev);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(me.Down(w, recv), Contribution(prev, count, 3));
}

// The gradient-bucket pattern of docs/NCCL.md with explicit events: the
// compute stream produces the bucket (a copy, queued behind a large memset
// so the comm stream would read stale data without the wait), the comm
// stream waits on `ready`, all-reduces, records `done`, and the compute
// stream waits on `done` before reading.
void CheckBucketOrdering(Rank& me, int n) {
  NcclComm& w = *me.world;
  const size_t count = 1 << 20;
  auto staged = me.Up(Contribution(w.rank(), count, 4));
  auto bucket = me.Zeros<float>(count);
  auto big = me.Zeros<float>(size_t{64} << 20);
  auto ready = CudaEvent::Create();
  auto done = CudaEvent::Create();
  ASSERT_TRUE(ready.ok() && done.ok());
  ASSERT_EQ(cudaMemsetAsync(big.data(), 0, big.bytes(), me.ctx->stream()), cudaSuccess);
  ASSERT_EQ(cudaMemcpyAsync(bucket.data(), staged.data(), staged.bytes(), cudaMemcpyDeviceToDevice, me.ctx->stream()),
            cudaSuccess);
  ASSERT_TRUE(ready->Record(me.ctx->stream()).ok());
  ASSERT_TRUE(w.WaitFor(ready->get()).ok());
  ASSERT_TRUE(w.AllReduceSum(bucket.data(), bucket.data(), count).ok());
  ASSERT_TRUE(w.Record(done->get()).ok());
  ASSERT_TRUE(done->MakeWait(me.ctx->stream()).ok());
  ASSERT_TRUE(me.ctx->Synchronize().ok());
  auto got = cuda::Download(bucket, me.ctx->stream());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  std::vector<float> want(count, 0.f);
  for (int r = 0; r < n; ++r) {
    const std::vector<float> c = Contribution(r, count, 4);
    for (size_t i = 0; i < count; ++i) want[i] += c[i];
  }
  EXPECT_EQ(*got, want);
}

void CheckEverything(Rank& me, int n) {
  for (size_t count : {size_t{1}, size_t{1000}, size_t{262147}}) {  // odd sizes
    SCOPED_TRACE(count);
    CheckAllReduce<float>(me, n, count);
    CheckAllReduce<__nv_bfloat16>(me, n, count);
    CheckReduceScatter<float>(me, n, count);
    CheckReduceScatter<__nv_bfloat16>(me, n, count);
    CheckAllGather<float>(me, n, count);
    CheckAllGather<__nv_bfloat16>(me, n, count);
    CheckSendRecvRing<float>(me, n, count);
    CheckSendRecvRing<__nv_bfloat16>(me, n, count);
  }
  CheckBucketOrdering(me, n);
  Status s = me.world->CheckAsync();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(NcclCommTest, WorldOfOne) {
  InMemoryKvStore kv;
  const std::string prefix = UniquePrefix("one");
  Rank me;
  Join(&me, kv, prefix, 0, 1);
  if (HasFatalFailure()) return;
  CheckEverything(me, 1);

  // The id went through the store as 256 hex digits under "<prefix>nccl/world".
  auto value = kv.Get(prefix + "nccl/world", 0);
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_TRUE(DecodeNcclUniqueId(std::string(value->begin(), value->end())).ok());
}

TEST(NcclCommTest, WorldOfOneSplits) {
  InMemoryKvStore kv;
  Rank me;
  Join(&me, kv, UniquePrefix("one-split"), 0, 1);
  if (HasFatalFailure()) return;
  // The three splits every rank makes (nccl_id.h), for a one-rank job.
  auto splits = NcclSplitsOf({{"llm", {1, 1, 1}}}, 0);
  ASSERT_TRUE(splits.ok());
  for (const NcclSplit& s : {splits->dp, splits->tp, splits->mp}) {
    auto child = me.world->Split(s);
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    ASSERT_NE(*child, nullptr);
    EXPECT_EQ((*child)->rank(), 0);
    EXPECT_EQ((*child)->size(), 1);
    EXPECT_EQ((*child)->name(), s.name);
    EXPECT_NE((*child)->stream(), me.world->stream());
    auto data = me.Up(Contribution(0, 100));
    ASSERT_TRUE((*child)->WaitForCompute().ok());
    ASSERT_TRUE((*child)->AllReduceSum(data.data(), data.data(), 100).ok());
    EXPECT_EQ(me.Down(**child, data), Contribution(0, 100));
  }
  auto none = me.world->Split(kNcclNoColor, 0);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, nullptr);
  auto bad = me.world->Split(-5, 0);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(NcclCommTest, AbortMakesLaterCallsFail) {
  InMemoryKvStore kv;
  Rank me;
  Join(&me, kv, UniquePrefix("abort"), 0, 1);
  if (HasFatalFailure()) return;
  auto data = me.Up(Contribution(0, 10));
  ASSERT_TRUE(me.ctx->Synchronize().ok());
  // Cancel comes from another thread (the worker's cancel handler).
  Status aborted;
  std::thread canceller([&] { aborted = me.world->Abort(); });
  canceller.join();
  EXPECT_TRUE(aborted.ok()) << aborted.ToString();
  EXPECT_TRUE(me.world->Abort().ok());  // idempotent
  Status s = me.world->AllReduceSum(data.data(), data.data(), 10);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("aborted"), std::string::npos) << s.ToString();
  EXPECT_EQ(me.world->CheckAsync().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(me.world->Split(0, 0).status().code(), StatusCode::kFailedPrecondition);
}

TEST(NcclCommTest, RankNeverJoinsTimesOut) {
  // A world of 2 where only rank 0 joins (one device is enough: rank 1 never exists).
  InMemoryKvStore kv;
  const std::string prefix = UniquePrefix("never-joins");
  auto ctx = cuda::Context::Create(0);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  cuda::ScopedContext scope(ctx->get());
  const auto timeout = 3s;
  const auto t0 = Clock::now();
  auto world = NcclComm::CreateWorld(kv, prefix, 0, 2, **ctx, timeout);
  const auto took = Clock::now() - t0;
  ASSERT_FALSE(world.ok());
  EXPECT_EQ(world.status().code(), StatusCode::kDeadlineExceeded) << world.status().ToString();
  EXPECT_NE(world.status().message().find(prefix + "nccl/world"), std::string::npos) << world.status().ToString();
  EXPECT_GE(took, timeout);
  EXPECT_LT(took, timeout + 10s) << "the timeout path (and its abort) took too long";
  std::printf("rank never joins: %s after %.1f s\n", world.status().ToString().c_str(),
              std::chrono::duration<double>(took).count());
}

TEST(NcclCommTest, RankZeroNeverPublishesTimesOut) {
  InMemoryKvStore kv;
  const std::string prefix = UniquePrefix("no-rank-0");
  auto ctx = cuda::Context::Create(0);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  const auto timeout = 500ms;
  const auto t0 = Clock::now();
  auto world = NcclComm::CreateWorld(kv, prefix, 1, 2, **ctx, timeout);
  const auto took = Clock::now() - t0;
  ASSERT_FALSE(world.ok());
  EXPECT_EQ(world.status().code(), StatusCode::kDeadlineExceeded) << world.status().ToString();
  EXPECT_NE(world.status().message().find("'" + prefix + "nccl/world'"), std::string::npos) << world.status().ToString();
  EXPECT_GE(took, timeout);
  EXPECT_LT(took, timeout + 5s);
}

TEST(NcclCommTest, MalformedIdRejected) {
  InMemoryKvStore kv;
  const std::string prefix = UniquePrefix("malformed");
  const std::string junk = "not an id";
  ASSERT_TRUE(kv.Set(NcclWorldKey(prefix), std::vector<uint8_t>(junk.begin(), junk.end())).ok());
  auto ctx = cuda::Context::Create(0);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  auto world = NcclComm::CreateWorld(kv, prefix, 1, 2, **ctx, 1s);
  ASSERT_FALSE(world.ok());
  EXPECT_EQ(world.status().code(), StatusCode::kInvalidArgument) << world.status().ToString();
  EXPECT_NE(world.status().message().find("expected 256 hex digits"), std::string::npos) << world.status().ToString();
}

TEST(NcclCommTest, BadArguments) {
  InMemoryKvStore kv;
  auto ctx = cuda::Context::Create(0);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_EQ(NcclComm::CreateWorld(kv, "x/", 2, 2, **ctx, 1s).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NcclComm::CreateWorld(kv, "x/", 0, 0, **ctx, 1s).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NcclComm::CreateWorld(kv, "x/", 0, 1, **ctx, 0ms).status().code(), StatusCode::kInvalidArgument);
}

// ---- 2+ GPUs. ----

TEST(NcclCommTest, MultiRankCollectives) {
  ASSERT_DEVICES(2);
  const int n = MultiRankWorld();
  std::printf("world of %d ranks (one per device)\n", n);
  InMemoryKvStore kv;
  const std::string prefix = UniquePrefix("multi");
  RunRanks(n, [&](int rank) {
    Rank me;
    Join(&me, kv, prefix, rank, n);
    if (testing::Test::HasFatalFailure()) return;
    CheckEverything(me, n);
  });
}

TEST(NcclCommTest, MultiRankSplitIntoTwoGroups) {
  ASSERT_DEVICES(2);
  const int n = MultiRankWorld();
  InMemoryKvStore kv;
  const std::string prefix = UniquePrefix("split");
  RunRanks(n, [&](int rank) {
    Rank me;
    Join(&me, kv, prefix, rank, n);
    if (testing::Test::HasFatalFailure()) return;
    // Even and odd ranks; keys reversed, so the group's rank order is the reverse of the world's.
    const int color = rank % 2;
    auto group = me.world->Split(color, n - rank, color == 0 ? "even" : "odd");
    ASSERT_TRUE(group.ok()) << group.status().ToString();
    NcclComm& g = **group;
    std::vector<int> members;
    for (int r = 0; r < n; ++r) {
      if (r % 2 == color) members.push_back(r);
    }
    std::reverse(members.begin(), members.end());
    ASSERT_EQ(g.size(), static_cast<int>(members.size()));
    ASSERT_EQ(members[g.rank()], rank);

    const size_t count = 4099;
    auto data = me.Up(Contribution(rank, count));
    ASSERT_TRUE(g.WaitForCompute().ok());
    ASSERT_TRUE(g.AllReduceSum(data.data(), data.data(), count).ok());
    std::vector<float> want(count, 0.f);
    for (int r : members) {
      const std::vector<float> c = Contribution(r, count);
      for (size_t i = 0; i < count; ++i) want[i] += c[i];
    }
    EXPECT_EQ(me.Down(g, data), want);

    // The group's gather is in key order.
    auto mine = me.Up(Contribution(rank, 3, 9));
    auto all = me.Zeros<float>(3 * members.size());
    ASSERT_TRUE(g.WaitForCompute().ok());
    ASSERT_TRUE(g.AllGather(mine.data(), all.data(), 3).ok());
    std::vector<float> gathered;
    for (int r : members) {
      const std::vector<float> c = Contribution(r, 3, 9);
      gathered.insert(gathered.end(), c.begin(), c.end());
    }
    EXPECT_EQ(me.Down(g, all), gathered);
    EXPECT_TRUE(g.CheckAsync().ok());
    EXPECT_TRUE(me.world->CheckAsync().ok());
  });
}

// The job's DP/TP/MP splits (nccl_id.h) on a 4-GPU world: one module {dp 2, tp 2, pp 1}.
TEST(NcclCommTest, JobSplitsOnFourRanks) {
  ASSERT_DEVICES(4);
  const std::vector<NcclModule> job = {{"llm", {2, 2, 1}}};
  InMemoryKvStore kv;
  const std::string prefix = UniquePrefix("job");
  RunRanks(4, [&](int rank) {
    Rank me;
    Join(&me, kv, prefix, rank, 4);
    if (testing::Test::HasFatalFailure()) return;
    auto splits = NcclSplitsOf(job, rank);
    ASSERT_TRUE(splits.ok());
    auto dp = me.world->Split(splits->dp);
    auto tp = me.world->Split(splits->tp);
    auto mp = me.world->Split(splits->mp);
    ASSERT_TRUE(dp.ok() && tp.ok() && mp.ok());
    EXPECT_EQ((*dp)->rank(), splits->dp.key);
    EXPECT_EQ((*tp)->rank(), splits->tp.key);
    EXPECT_EQ((*mp)->rank(), splits->mp.key);
    // Sum of the world ranks over the DP group {t, 2 + t}: 2 + 2t; over the TP group {2d, 2d + 1}: 4d + 1.
    auto v = me.Up(std::vector<float>{static_cast<float>(rank)});
    ASSERT_TRUE((*dp)->WaitForCompute().ok());
    ASSERT_TRUE((*dp)->AllReduceSum(v.data(), v.data(), 1).ok());
    EXPECT_EQ(me.Down(**dp, v), std::vector<float>{static_cast<float>(2 + 2 * (rank % 2))});
    auto u = me.Up(std::vector<float>{static_cast<float>(rank)});
    ASSERT_TRUE((*tp)->WaitForCompute().ok());
    ASSERT_TRUE((*tp)->AllReduceSum(u.data(), u.data(), 1).ok());
    EXPECT_EQ(me.Down(**tp, u), std::vector<float>{static_cast<float>(4 * (rank / 2) + 1)});
  });
}

}  // namespace
}  // namespace braid::comm
