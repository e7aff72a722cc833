// The pure half of the DP all-reduce choice (common/worker/dp_allreduce_choice.h):
// the BRAID_DP_ALLREDUCE switch, the rendezvous key names, the member
// records, the choice between NCCL and the host-staged Gloo fallback, and
// the exchanges through the store that make every rank of a group choose
// alike (ranks as threads on an InMemoryKvStore).
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "common/comm/kv_store.h"
#include "common/comm/nccl_id.h"
#include "common/worker/dp_allreduce_choice.h"

namespace braid::worker {
namespace {

DpMember Cuda(const std::string& id, DpAllReduceMode mode = DpAllReduceMode::kAuto) { return {mode, "cuda", id}; }

TEST(DpAllReduceMode, ParsesTheSwitch) {
  EXPECT_EQ(*ParseDpAllReduceMode(""), DpAllReduceMode::kAuto);
  EXPECT_EQ(*ParseDpAllReduceMode("auto"), DpAllReduceMode::kAuto);
  EXPECT_EQ(*ParseDpAllReduceMode("gloo"), DpAllReduceMode::kGloo);
  EXPECT_EQ(*ParseDpAllReduceMode("nccl"), DpAllReduceMode::kNccl);
  for (const char* bad : {"GLOO", "mpi", " gloo", "nccl2"}) {
    StatusOr<DpAllReduceMode> m = ParseDpAllReduceMode(bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find("BRAID_DP_ALLREDUCE='" + std::string(bad) + "'"), std::string::npos)
        << m.status().message();
    EXPECT_NE(m.status().message().find("auto, gloo or nccl"), std::string::npos);
  }
  for (DpAllReduceMode m : {DpAllReduceMode::kAuto, DpAllReduceMode::kGloo, DpAllReduceMode::kNccl})
    EXPECT_EQ(*ParseDpAllReduceMode(DpAllReduceModeName(m)), m);
}

TEST(DpAllReduceMode, ReadsTheEnvironment) {
  ASSERT_EQ(::setenv(kDpAllReduceEnv, "gloo", 1), 0);
  EXPECT_EQ(*DpAllReduceModeFromEnv(), DpAllReduceMode::kGloo);
  ASSERT_EQ(::setenv(kDpAllReduceEnv, "bogus", 1), 0);
  EXPECT_EQ(DpAllReduceModeFromEnv().status().code(), StatusCode::kInvalidArgument);
  ASSERT_EQ(::unsetenv(kDpAllReduceEnv), 0);
  EXPECT_EQ(*DpAllReduceModeFromEnv(), DpAllReduceMode::kAuto);
}

TEST(DpAllReduceKeys, NameTheModuleAndTheGroup) {
  const std::string p = NcclDpGroupPrefix("llm", "dp-t0-p0");
  EXPECT_EQ(p, "nccl/llm/dp-t0-p0/");
  EXPECT_EQ(DpMemberKey(p, 3), "nccl/llm/dp-t0-p0/member/3");
  EXPECT_EQ(DpOutcomeKey(p, 0), "nccl/llm/dp-t0-p0/outcome/0");
  EXPECT_EQ(comm::NcclWorldKey(p), "nccl/llm/dp-t0-p0/nccl/world");
  // Other modules and groups never share a key; nor do the Gloo groups
  // ("gloo/<role>/<group>/") or the job-wide NCCL world ("nccl/world").
  EXPECT_NE(comm::NcclWorldKey(p), comm::NcclWorldKey(NcclDpGroupPrefix("encoder", "dp-t0-p0")));
  EXPECT_NE(comm::NcclWorldKey(p), comm::NcclWorldKey(NcclDpGroupPrefix("llm", "dp-t1-p0")));
  EXPECT_NE(comm::NcclWorldKey(p), comm::NcclWorldKey(""));
  EXPECT_EQ(p.rfind("gloo/", 0), std::string::npos);
}

TEST(DpAllReduceKeys, LandUnderTheAttemptPrefix) {
  // The worker's store prefixes every key with the attempt's rendezvous
  // prefix: a new attempt reads none of the old one's keys.
  comm::InMemoryKvStore base;
  comm::PrefixKvStore attempt1(&base, "job-a/attempt-1/"), attempt2(&base, "job-a/attempt-2/");
  const std::string p = NcclDpGroupPrefix("generator", "dp-t0-p0");
  ASSERT_TRUE(ExchangeDpMembers(attempt1, p, 0, 1, Cuda("aa"), 1).ok());
  EXPECT_TRUE(base.Get("job-a/attempt-1/nccl/generator/dp-t0-p0/member/0", 0).ok());
  EXPECT_EQ(attempt2.Get(DpMemberKey(p, 0), 0).status().code(), StatusCode::kDeadlineExceeded);
}

TEST(DpMemberRecord, RoundTrips) {
  for (const DpMember& m : {Cuda("0123456789abcdef0123456789abcdef"), Cuda("", DpAllReduceMode::kGloo),
                            DpMember{DpAllReduceMode::kNccl, "guarded-fake", ""}}) {
    const std::string text = EncodeDpMember(m);
    StatusOr<DpMember> back = DecodeDpMember(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().ToString();
    EXPECT_EQ(back->mode, m.mode);
    EXPECT_EQ(back->device_kind, m.device_kind);
    EXPECT_EQ(back->device_id, m.device_id);
  }
  EXPECT_EQ(EncodeDpMember(Cuda("ab")), "mode=auto;kind=cuda;device=ab");
}

TEST(DpMemberRecord, RefusesMalformedText) {
  for (const char* bad : {"", "mode=auto", "mode=auto;kind=cuda", "kind=cuda;mode=auto;device=x",
                          "mode=;kind=cuda;device=x", "mode=fast;kind=cuda;device=x",
                          "mode=auto;kind=cu=da;device=x", "mode=auto;kind=cuda;device=x;y"}) {
    StatusOr<DpMember> m = DecodeDpMember(bad, "record under key 'k'");
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument) << bad;
    if (std::string(bad).find("fast") == std::string::npos) {
      EXPECT_NE(m.status().message().find("record under key 'k'"), std::string::npos) << m.status().message();
    }
  }
}

TEST(ChooseDpAllReduce, NcclOnDistinctCudaDevices) {
  const DpAllReduceChoice c = ChooseDpAllReduce({Cuda("a"), Cuda("b"), Cuda("c", DpAllReduceMode::kNccl)});
  EXPECT_TRUE(c.nccl) << c.why;
  EXPECT_NE(c.why.find("3 ranks on distinct cuda devices"), std::string::npos) << c.why;
}

TEST(ChooseDpAllReduce, FallsBackWhenRanksShareADevice) {
  const DpAllReduceChoice c = ChooseDpAllReduce({Cuda("a"), Cuda("b"), Cuda("a")});
  EXPECT_FALSE(c.nccl);
  EXPECT_NE(c.why.find("ranks 0 and 2 share cuda device a"), std::string::npos) << c.why;
  EXPECT_NE(c.why.find("one device per rank"), std::string::npos) << c.why;
}

TEST(ChooseDpAllReduce, FallsBackOnTheSwitchOfAnyRank) {
  const DpAllReduceChoice c = ChooseDpAllReduce({Cuda("a"), Cuda("b", DpAllReduceMode::kGloo)});
  EXPECT_FALSE(c.nccl);
  EXPECT_NE(c.why.find("rank 1 has BRAID_DP_ALLREDUCE=gloo"), std::string::npos) << c.why;
}

TEST(ChooseDpAllReduce, FallsBackOffCudaAndForOneRank) {
  DpAllReduceChoice c = ChooseDpAllReduce({Cuda("a"), DpMember{DpAllReduceMode::kAuto, "guarded-fake", "b"}});
  EXPECT_FALSE(c.nccl);
  EXPECT_NE(c.why.find("rank 1 is on device 'guarded-fake', not cuda"), std::string::npos) << c.why;
  c = ChooseDpAllReduce({Cuda("a")});
  EXPECT_FALSE(c.nccl);
  EXPECT_NE(c.why.find("nothing to sum"), std::string::npos) << c.why;
  c = ChooseDpAllReduce({Cuda("a"), Cuda("")});
  EXPECT_FALSE(c.nccl);
  EXPECT_NE(c.why.find("rank 1 did not name its device"), std::string::npos) << c.why;
}

// Runs `f(rank)` on `n` threads.
template <typename F>
void OnThreads(int n, F f) {
  std::vector<std::thread> t;
  for (int r = 0; r < n; ++r) t.emplace_back(f, r);
  for (auto& x : t) x.join();
}

TEST(ExchangeDpMembers, EveryRankSeesEveryRecordAndChoosesAlike) {
  comm::InMemoryKvStore kv;
  const std::string p = NcclDpGroupPrefix("llm", "dp-t0-p0");
  // Ranks 1 and 3 share a device: every rank must see it and fall back.
  const std::vector<DpMember> mine = {Cuda("d0"), Cuda("d1"), Cuda("d2"), Cuda("d1")};
  std::vector<StatusOr<std::vector<DpMember>>> got(4, Status::Internal("not run"));
  OnThreads(4, [&](int r) { got[size_t(r)] = ExchangeDpMembers(kv, p, r, 4, mine[size_t(r)], 10); });
  for (int r = 0; r < 4; ++r) {
    ASSERT_TRUE(got[size_t(r)].ok()) << got[size_t(r)].status().ToString();
    ASSERT_EQ(got[size_t(r)]->size(), 4u);
    for (int q = 0; q < 4; ++q) EXPECT_EQ((*got[size_t(r)])[size_t(q)].device_id, mine[size_t(q)].device_id);
    const DpAllReduceChoice c = ChooseDpAllReduce(*got[size_t(r)]);
    EXPECT_FALSE(c.nccl);
    EXPECT_NE(c.why.find("ranks 1 and 3 share cuda device d1"), std::string::npos) << c.why;
  }
}

TEST(ExchangeDpMembers, NamesTheKeyOfAMissingRank) {
  comm::InMemoryKvStore kv;
  const std::string p = NcclDpGroupPrefix("encoder", "dp-t0-p0");
  StatusOr<std::vector<DpMember>> got = ExchangeDpMembers(kv, p, 0, 2, Cuda("a"), 0.05);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(got.status().message().find("nothing from rank 1 under key 'nccl/encoder/dp-t0-p0/member/1'"),
            std::string::npos)
      << got.status().message();
  EXPECT_EQ(ExchangeDpMembers(kv, p, 2, 2, Cuda("a"), 1).status().code(), StatusCode::kInvalidArgument);
}

TEST(ExchangeDpMembers, RefusesAMalformedRecord) {
  comm::InMemoryKvStore kv;
  const std::string p = NcclDpGroupPrefix("llm", "dp-t0-p0");
  ASSERT_TRUE(kv.Set(DpMemberKey(p, 1), {'x'}).ok());
  StatusOr<std::vector<DpMember>> got = ExchangeDpMembers(kv, p, 0, 2, Cuda("a"), 1);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(got.status().message().find("nccl/llm/dp-t0-p0/member/1"), std::string::npos) << got.status().message();
}

TEST(AgreeOnNcclInit, NcclOnlyWhenEveryRankCameUp) {
  {
    comm::InMemoryKvStore kv;
    std::vector<StatusOr<DpAllReduceChoice>> got(3, Status::Internal("not run"));
    OnThreads(3, [&](int r) { got[size_t(r)] = AgreeOnNcclInit(kv, "g/", r, 3, Status::Ok(), 10); });
    for (auto& c : got) {
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      EXPECT_TRUE(c->nccl) << c->why;
    }
  }
  comm::InMemoryKvStore kv;
  std::vector<StatusOr<DpAllReduceChoice>> got(3, Status::Internal("not run"));
  OnThreads(3, [&](int r) {
    const Status mine = r == 2 ? Status::Unavailable("ncclCommInitRankConfig: remote error") : Status::Ok();
    got[size_t(r)] = AgreeOnNcclInit(kv, "g/", r, 3, mine, 10);
  });
  for (auto& c : got) {
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_FALSE(c->nccl);
    EXPECT_NE(c->why.find("NCCL init failed on rank 2"), std::string::npos) << c->why;
    EXPECT_NE(c->why.find("remote error"), std::string::npos) << c->why;
  }
}

TEST(AgreeOnNcclInit, NamesTheKeyOfAMissingRank) {
  comm::InMemoryKvStore kv;
  StatusOr<DpAllReduceChoice> c = AgreeOnNcclInit(kv, "g/", 1, 2, Status::Ok(), 0.05);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(c.status().message().find("nothing from rank 0 under key 'g/outcome/0'"), std::string::npos)
      << c.status().message();
}

}  // namespace
}  // namespace braid::worker
