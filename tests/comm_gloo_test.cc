// KvStore implementations and GlooGroup collectives: groups of 1..3 ranks as
// threads sharing an InMemoryKvStore, forked processes rendezvousing through a
// directory, and the failure paths (a rank that never joins, stalls, or dies).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "common/comm/gloo_group.h"
#include "common/comm/kv_store.h"
#include "tests/temp_dir.h"

namespace braid::comm {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<uint8_t> Bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// Every group gets its own prefix: rendezvous keys are "0".."size-1".
std::string UniquePrefix(const std::string& name) {
  static std::atomic<int> counter{0};
  return "test/" + name + "/" + std::to_string(counter++) + "/";
}

GlooGroupOptions Opts(double timeout_seconds = 20) {
  GlooGroupOptions o;
  o.timeout_seconds = timeout_seconds;
  return o;
}

// Runs fn(group) on `size` threads, one rank each, after creating the group
// through a shared in-memory store. Create failures are test failures.
void RunGroup(int size, const std::function<void(GlooGroup&)>& fn, const std::string& name = "group") {
  InMemoryKvStore base;
  PrefixKvStore store(&base, UniquePrefix(name));
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      auto g = GlooGroup::Create(&store, r, size, Opts());
      ASSERT_TRUE(g.ok()) << g.status().ToString();
      EXPECT_EQ((*g)->rank(), r);
      EXPECT_EQ((*g)->size(), size);
      fn(**g);
    });
  }
  for (auto& t : threads) t.join();
}

// Rank r's input: irrational-ish values so float sums actually round.
template <typename T>
std::vector<T> Input(int rank, int64_t n, int salt = 0) {
  std::vector<T> x(n);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<T>(std::sin(0.37 * i + 1.3 * rank + 0.11 * salt) * (1 + rank));
  return x;
}

// The serial reference: acc = x0; acc += x1; ... (rank order).
template <typename T>
std::vector<T> SerialSum(int size, int64_t n, int salt = 0) {
  std::vector<T> acc = Input<T>(0, n, salt);
  for (int r = 1; r < size; ++r) {
    const std::vector<T> x = Input<T>(r, n, salt);
    for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
  }
  return acc;
}

template <typename T>
bool BitEqual(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <typename T>
double MaxAbsDiff(const std::vector<T>& a, const std::vector<T>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

// ---- KvStore ----------------------------------------------------------------

TEST(InMemoryKvStore, SetThenGet) {
  InMemoryKvStore s;
  ASSERT_TRUE(s.Set("a", Bytes("hello")).ok());
  auto v = s.Get("a", 0);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, Bytes("hello"));
  ASSERT_TRUE(s.Set("a", Bytes("again")).ok());
  EXPECT_EQ(*s.Get("a", 0), Bytes("again"));
  EXPECT_EQ(s.size(), 1u);
}

TEST(InMemoryKvStore, GetBlocksUntilSet) {
  InMemoryKvStore s;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(s.Set("late", Bytes("x")).ok());
  });
  auto v = s.Get("late", 10);
  writer.join();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, Bytes("x"));
}

TEST(InMemoryKvStore, TimeoutNamesKey) {
  InMemoryKvStore s;
  const auto t0 = Clock::now();
  auto v = s.Get("missing-key", 0.1);
  const double elapsed = SecondsSince(t0);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(v.status().message().find("missing-key"), std::string::npos) << v.status().message();
  EXPECT_GE(elapsed, 0.09);
  EXPECT_LT(elapsed, 5.0);
  // Zero timeout checks once.
  EXPECT_EQ(s.Get("missing-key", 0).status().code(), StatusCode::kDeadlineExceeded);
}

TEST(PrefixKvStore, Isolation) {
  InMemoryKvStore base;
  PrefixKvStore a(&base, "job-7/encoder/");
  PrefixKvStore b(&base, "job-7/llm/");
  ASSERT_TRUE(a.Set("0", Bytes("enc")).ok());
  ASSERT_TRUE(b.Set("0", Bytes("llm")).ok());
  EXPECT_EQ(*a.Get("0", 0), Bytes("enc"));
  EXPECT_EQ(*b.Get("0", 0), Bytes("llm"));
  EXPECT_EQ(*base.Get("job-7/encoder/0", 0), Bytes("enc"));
  ASSERT_TRUE(a.Set("only-a", Bytes("1")).ok());
  auto miss = b.Get("only-a", 0.01);
  ASSERT_FALSE(miss.ok());
  EXPECT_EQ(miss.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(miss.status().message().find("job-7/llm/only-a"), std::string::npos) << miss.status().message();
  // Views nest.
  PrefixKvStore step(&a, "step-0/");
  ASSERT_TRUE(step.Set("k", Bytes("v")).ok());
  EXPECT_EQ(*base.Get("job-7/encoder/step-0/k", 0), Bytes("v"));
}

// ---- groups of threads ----------------------------------------------------------

TEST(GlooGroup, InvalidArguments) {
  InMemoryKvStore s;
  EXPECT_EQ(GlooGroup::Create(&s, 0, 0, Opts()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GlooGroup::Create(&s, 2, 2, Opts()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GlooGroup::Create(nullptr, 0, 2, Opts()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GlooGroup::Create(&s, 0, 2, Opts(0)).status().code(), StatusCode::kInvalidArgument);
}

TEST(GlooGroup, SizeOneIsLocalNoOp) {
  auto g = GlooGroup::Create(nullptr, 0, 1, Opts());
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  std::vector<float> x = Input<float>(0, 1000);
  const std::vector<float> before = x;
  ASSERT_TRUE((*g)->AllReduceSum(x.data(), x.size()).ok());
  EXPECT_TRUE(BitEqual(x, before));
  double d = 2.5;
  ASSERT_TRUE((*g)->AllReduceSum(&d, 1).ok());
  EXPECT_EQ(d, 2.5);
  ASSERT_TRUE((*g)->Broadcast(x.data(), x.size(), 0).ok());
  ASSERT_TRUE((*g)->Barrier().ok());
  EXPECT_EQ((*g)->Broadcast(x.data(), x.size(), 1).code(), StatusCode::kInvalidArgument);
}

template <typename T>
void CheckAllReduce(int size, int64_t n) {
  SCOPED_TRACE("size " + std::to_string(size) + " n " + std::to_string(n) + " elem " + std::to_string(sizeof(T)));
  const std::vector<T> want = SerialSum<T>(size, n);
  std::vector<std::vector<T>> got(size);
  RunGroup(size, [&](GlooGroup& g) {
    std::vector<T> x = Input<T>(g.rank(), n);
    Status st = g.AllReduceSum(x.data(), n);
    ASSERT_TRUE(st.ok()) << st.ToString();
    got[g.rank()] = std::move(x);
  });
  for (int r = 0; r < size; ++r) {
    // The algorithm sums in rank order, so it matches the serial loop exactly.
    EXPECT_TRUE(BitEqual(got[r], want)) << "rank " << r << " max |diff| " << MaxAbsDiff(got[r], want);
    EXPECT_TRUE(BitEqual(got[r], got[0])) << "rank " << r << " differs from rank 0";
  }
}

TEST(GlooGroup, AllReduceMatchesSerialSum) {
  for (int size : {1, 2, 3}) {
    for (int64_t n : {int64_t{1}, int64_t{1000}, int64_t{1} << 20}) {
      CheckAllReduce<float>(size, n);
      CheckAllReduce<double>(size, n);
    }
  }
}

// Lengths that do not divide evenly (some ranks own empty chunks), partial
// 1 MiB blocks, and more than one 16 MiB-per-rank segment.
TEST(GlooGroup, AllReduceOddLengthsAndSegments) {
  CheckAllReduce<float>(3, 2);
  CheckAllReduce<float>(3, 7);
  CheckAllReduce<float>(3, (int64_t{1} << 18) * 3 + 1);
  CheckAllReduce<double>(2, (int64_t{5} << 20) + 5);
}

TEST(GlooGroup, RepeatedAllReduceAndDeterminism) {
  constexpr int kSize = 3;
  constexpr int kRepeats = 20;
  constexpr int64_t kN = 10007;
  std::vector<std::vector<std::vector<float>>> out(kSize, std::vector<std::vector<float>>(kRepeats));
  std::vector<std::vector<float>> again(kSize);
  RunGroup(kSize, [&](GlooGroup& g) {
    for (int it = 0; it < kRepeats; ++it) {
      std::vector<float> x = Input<float>(g.rank(), kN, it);
      Status st = g.AllReduceSum(x.data(), kN);
      ASSERT_TRUE(st.ok()) << "iteration " << it << ": " << st.ToString();
      out[g.rank()][it] = std::move(x);
    }
    // The same inputs again, after other traffic, give the same bits.
    std::vector<float> x = Input<float>(g.rank(), kN, 0);
    ASSERT_TRUE(g.AllReduceSum(x.data(), kN).ok());
    again[g.rank()] = std::move(x);
  });
  for (int it = 0; it < kRepeats; ++it) {
    const std::vector<float> want = SerialSum<float>(kSize, kN, it);
    for (int r = 0; r < kSize; ++r) EXPECT_TRUE(BitEqual(out[r][it], want)) << "rank " << r << " iteration " << it;
  }
  for (int r = 0; r < kSize; ++r) EXPECT_TRUE(BitEqual(again[r], out[r][0])) << "rank " << r;
}

TEST(GlooGroup, DeterministicAcrossGroups) {
  // Two separate groups (fresh connections, different timing) on the same inputs.
  constexpr int64_t kN = 300001;
  std::vector<std::vector<float>> first(3), second(3);
  RunGroup(3, [&](GlooGroup& g) {
    first[g.rank()] = Input<float>(g.rank(), kN, 5);
    ASSERT_TRUE(g.AllReduceSum(first[g.rank()].data(), kN).ok());
  });
  RunGroup(3, [&](GlooGroup& g) {
    if (g.rank() == 1) std::this_thread::sleep_for(std::chrono::milliseconds(30));  // perturb timing
    second[g.rank()] = Input<float>(g.rank(), kN, 5);
    ASSERT_TRUE(g.AllReduceSum(second[g.rank()].data(), kN).ok());
  });
  for (int r = 0; r < 3; ++r) EXPECT_TRUE(BitEqual(first[r], second[r])) << "rank " << r;
}

TEST(GlooGroup, BroadcastAndBarrier) {
  for (int size : {2, 3}) {
    std::atomic<int> arrived{0};
    std::atomic<int> passed_early{0};
    RunGroup(size, [&](GlooGroup& g) {
      for (int root = 0; root < size; ++root) {
        std::vector<float> x = Input<float>(g.rank(), 100003);
        Status st = g.Broadcast(x.data(), x.size(), root);
        ASSERT_TRUE(st.ok()) << st.ToString();
        EXPECT_TRUE(BitEqual(x, Input<float>(root, 100003))) << "rank " << g.rank() << " root " << root;
      }
      // The last rank arrives late; nobody may leave the barrier before it arrives.
      if (g.rank() == size - 1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      arrived++;
      ASSERT_TRUE(g.Barrier().ok());
      if (arrived.load() != size) passed_early++;
    });
    EXPECT_EQ(passed_early.load(), 0) << "size " << size;
  }
}

// ---- failures ---------------------------------------------------------------

TEST(GlooGroup, RankThatNeverJoinsFailsCreateWithDeadline) {
  InMemoryKvStore base;
  PrefixKvStore store(&base, UniquePrefix("never-joins"));
  constexpr double kTimeout = 1.0;
  std::vector<Status> results(2);
  std::vector<double> elapsed(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {  // ranks 0 and 1 of 3; rank 2 never comes, so key ".../2" never appears
    threads.emplace_back([&, r] {
      const auto t0 = Clock::now();
      auto g = GlooGroup::Create(&store, r, 3, Opts(kTimeout));
      elapsed[r] = SecondsSince(t0);
      results[r] = g.status();
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(results[r].code(), StatusCode::kDeadlineExceeded) << results[r].ToString();
    EXPECT_NE(results[r].message().find("/2'"), std::string::npos) << results[r].ToString();
    EXPECT_LT(elapsed[r], kTimeout + 2.0) << "rank " << r;
  }
}

TEST(GlooGroup, StalledPeerTimesOutAndBreaksGroup) {
  InMemoryKvStore base;
  PrefixKvStore store(&base, UniquePrefix("stall"));
  Status st0;
  double elapsed = 0;
  std::thread peer([&] {
    auto g = GlooGroup::Create(&store, 1, 2, Opts(1.0));
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // never joins the all-reduce
  });
  {
    auto g = GlooGroup::Create(&store, 0, 2, Opts(1.0));
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    std::vector<float> x(1000, 1.0f);
    const auto t0 = Clock::now();
    st0 = (*g)->AllReduceSum(x.data(), x.size());
    elapsed = SecondsSince(t0);
    EXPECT_FALSE(st0.ok());
    EXPECT_EQ(st0.code(), StatusCode::kDeadlineExceeded) << st0.ToString();
    EXPECT_LT(elapsed, 3.0);
    EXPECT_EQ((*g)->Barrier().code(), StatusCode::kFailedPrecondition);
  }
  peer.join();
}

// ---- processes --------------------------------------------------------------

// A KvStore over a directory, for forked processes only (the production path
// is the orchestrator's gRPC store): one file per key, written to a temporary
// name and renamed into place, read by polling.
class FileKvStore : public KvStore {
 public:
  explicit FileKvStore(std::string dir) : dir_(std::move(dir)) {}

  Status Set(const std::string& key, const std::vector<uint8_t>& value) override {
    const std::string tmp = dir_ + "/.tmp." + std::to_string(getpid()) + "." + std::to_string(seq_++);
    {
      std::ofstream f(tmp, std::ios::binary);
      f.write(reinterpret_cast<const char*>(value.data()), value.size());
      if (!f) return Status::Internal("write " + tmp);
    }
    if (std::rename(tmp.c_str(), PathOf(key).c_str()) != 0) return Status::Internal("rename to " + PathOf(key));
    return Status::Ok();
  }

  StatusOr<std::vector<uint8_t>> Get(const std::string& key, double timeout_seconds) override {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_seconds);
    while (true) {
      std::ifstream f(PathOf(key), std::ios::binary);
      if (f) return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
      if (Clock::now() >= deadline) return Status(StatusCode::kDeadlineExceeded, "key '" + key + "' not set");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

 private:
  std::string PathOf(const std::string& key) const {
    std::string name;
    for (char c : key) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? std::string(1, c) : "_" + std::to_string(static_cast<int>(c)) + "_";
    return dir_ + "/" + name;
  }

  std::string dir_;
  int seq_ = 0;
};

// Forks `size` children running body(rank) -> exit code; waits up to
// `limit_seconds`, killing stragglers. Returns the exit codes (-1 if killed).
std::vector<int> ForkRanks(int size, double limit_seconds, const std::function<int(int)>& body) {
  std::vector<pid_t> pids;
  for (int r = 0; r < size; ++r) {
    const pid_t pid = fork();
    if (pid == 0) {
      int code = 99;
      try {
        code = body(r);
      } catch (...) {
        code = 98;
      }
      _exit(code);
    }
    pids.push_back(pid);
  }
  std::vector<int> codes(size, -1);
  std::vector<bool> done(size, false);
  const auto t0 = Clock::now();
  int remaining = size;
  while (remaining > 0 && SecondsSince(t0) < limit_seconds) {
    for (int r = 0; r < size; ++r) {
      int status = 0;
      if (!done[r] && waitpid(pids[r], &status, WNOHANG) == pids[r]) {
        done[r] = true;
        --remaining;
        codes[r] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (int r = 0; r < size; ++r) {
    if (!done[r]) {
      kill(pids[r], SIGKILL);
      waitpid(pids[r], nullptr, 0);
    }
  }
  return codes;
}

TEST(GlooGroupProcesses, ThreeProcessesAllReduce) {
  testing_util::ScopedTempDir dir("braid_gloo_kv_");
  constexpr int kSize = 3;
  constexpr int64_t kN = 1 << 20;
  const std::vector<int> codes = ForkRanks(kSize, 25, [&](int rank) {
    FileKvStore files(dir.path());
    PrefixKvStore store(&files, "job/encoder/");
    auto g = GlooGroup::Create(&store, rank, kSize, Opts(15));
    if (!g.ok()) {
      std::fprintf(stderr, "rank %d: %s\n", rank, g.status().ToString().c_str());
      return 10;
    }
    for (int it = 0; it < 3; ++it) {
      std::vector<float> x = Input<float>(rank, kN, it);
      if (!(*g)->AllReduceSum(x.data(), kN).ok()) return 11;
      if (!BitEqual(x, SerialSum<float>(kSize, kN, it))) return 12;
    }
    double loss = 0.5 * (rank + 1);
    if (!(*g)->AllReduceSum(&loss, 1).ok() || loss != 0.5 + 1.0 + 1.5) return 13;
    std::vector<float> b = Input<float>(rank, 1000);
    if (!(*g)->Broadcast(b.data(), b.size(), 2).ok() || !BitEqual(b, Input<float>(2, 1000))) return 14;
    if (!(*g)->Barrier().ok()) return 15;
    return 0;
  });
  for (int r = 0; r < kSize; ++r) EXPECT_EQ(codes[r], 0) << "rank " << r;
}

TEST(GlooGroupProcesses, PeerDiesMidCollective) {
  testing_util::ScopedTempDir dir("braid_gloo_kv_");
  constexpr int kSize = 3;
  constexpr double kTimeout = 5;
  const std::vector<int> codes = ForkRanks(kSize, 20, [&](int rank) {
    FileKvStore store(dir.path());
    auto g = GlooGroup::Create(&store, rank, kSize, Opts(kTimeout));
    if (!g.ok()) return 10;
    std::vector<float> x(1 << 20, 1.0f);
    if (!(*g)->AllReduceSum(x.data(), x.size()).ok()) return 11;  // one healthy round
    if (rank == 2) _exit(0);                                       // dies without a word
    const auto t0 = Clock::now();
    Status st = (*g)->AllReduceSum(x.data(), x.size());
    const double elapsed = SecondsSince(t0);
    std::fprintf(stderr, "rank %d after peer death (%.2f s): %s\n", rank, elapsed, st.ToString().c_str());
    if (st.ok()) return 12;
    if (elapsed > kTimeout + 2) return 13;
    if ((*g)->Barrier().code() != StatusCode::kFailedPrecondition) return 14;
    return 0;
  });
  for (int r = 0; r < kSize; ++r) EXPECT_EQ(codes[r], 0) << "rank " << r;
}

// Informational: algorithm bandwidth (bytes of the array / time) for 4M floats.
TEST(GlooGroup, Bandwidth4MFloats) {
  constexpr int64_t kN = 4 << 20;
  constexpr int kIters = 5;
  for (int size : {2, 3}) {
    std::vector<double> seconds(size);
    RunGroup(size, [&](GlooGroup& g) {
      std::vector<float> x(kN, 1.0f);
      ASSERT_TRUE(g.AllReduceSum(x.data(), kN).ok());  // warm-up
      ASSERT_TRUE(g.Barrier().ok());
      const auto t0 = Clock::now();
      for (int it = 0; it < kIters; ++it) ASSERT_TRUE(g.AllReduceSum(x.data(), kN).ok());
      seconds[g.rank()] = SecondsSince(t0) / kIters;
    });
    const double s = seconds[0];
    std::printf("[ bandwidth ] all-reduce 4M floats, %d ranks: %.1f ms, %.2f GB/s algbw\n", size, s * 1e3,
                kN * sizeof(float) / s / 1e9);
  }
}

}  // namespace
}  // namespace braid::comm
