// UCX point-to-point channel: tag layout, two channels in one process, two
// processes (fork + socketpair for the address exchange that production does
// through the orchestrator's KV store), deadlines, a dead peer, and an
// informational latency/bandwidth measurement.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/base/clock.h"
#include "common/comm/tag.h"
#include "common/comm/ucx_channel.h"
#include "tests/fork_child.h"

namespace braid::comm {
namespace {

using Req = std::shared_ptr<UcxChannel::Request>;

// Deterministic, tag-dependent payload (arbitrary bit patterns, never NaN).
std::vector<float> Payload(uint64_t tag, size_t n) {
  std::vector<float> v(n);
  uint64_t x = tag * 0x9E3779B97F4A7C15ull + n;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    v[i] = static_cast<float>(static_cast<int32_t>(x >> 32)) / 2147483648.0f;
  }
  return v;
}

bool BitIdentical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

std::unique_ptr<UcxChannel> MakeChannel(double timeout_seconds = 20) {
  UcxOptions opt;
  opt.timeout_seconds = timeout_seconds;
  auto ch = UcxChannel::Create(opt);
  if (!ch.ok()) ADD_FAILURE() << ch.status().ToString();
  return ch.ok() ? std::move(ch).value() : nullptr;
}

// Drives several channels by hand (one thread) until every request is done.
Status DriveAll(const std::vector<UcxChannel*>& chans, const std::vector<Req>& reqs, double timeout_seconds) {
  const double deadline = NowSeconds() + timeout_seconds;
  for (;;) {
    bool all = true;
    for (const Req& r : reqs) all = all && r->done();
    if (all) break;
    if (NowSeconds() > deadline) return Status(StatusCode::kDeadlineExceeded, "DriveAll");
    for (UcxChannel* c : chans) c->Progress();
  }
  for (const Req& r : reqs) RETURN_IF_ERROR(r->status());
  return Status::Ok();
}

// ---- address exchange over a socket (stand-in for the rendezvous KV) ------
// Children are forked with tests/fork_child.h (the child reports through its
// exit code: gtest assertions do not cross fork; waits are bounded).
using testing_util::ChildProcess;
using testing_util::ReadFull;
using testing_util::WriteFull;

bool SendAddress(int fd, const std::vector<uint8_t>& a) {
  uint32_t n = static_cast<uint32_t>(a.size());
  return WriteFull(fd, &n, sizeof(n)) && WriteFull(fd, a.data(), n);
}
bool RecvAddress(int fd, std::vector<uint8_t>* a) {
  uint32_t n = 0;
  if (!ReadFull(fd, &n, sizeof(n)) || n == 0 || n > (1u << 20)) return false;
  a->resize(n);
  return ReadFull(fd, a->data(), n);
}

#define CHILD_CHECK(cond)                                                     \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "child %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      return 1;                                                               \
    }                                                                         \
  } while (0)
#define CHILD_OK(expr)                                                                        \
  do {                                                                                        \
    ::braid::Status _s = (expr);                                                              \
    if (!_s.ok()) {                                                                           \
      std::fprintf(stderr, "child %s:%d: %s\n", __FILE__, __LINE__, _s.ToString().c_str()); \
      return 1;                                                                               \
    }                                                                                         \
  } while (0)

// Creates a channel and connects it to the peer at the other end of `fd`.
std::unique_ptr<UcxChannel> ConnectOverSocket(int fd, const std::string& peer_name, double timeout_seconds) {
  UcxOptions opt;
  opt.timeout_seconds = timeout_seconds;
  auto ch = UcxChannel::Create(opt);
  if (!ch.ok()) return nullptr;
  std::vector<uint8_t> remote;
  if (!SendAddress(fd, (*ch)->address()) || !RecvAddress(fd, &remote)) return nullptr;
  if (!(*ch)->Connect(peer_name, remote).ok()) return nullptr;
  return std::move(ch).value();
}

// ---- tests ---------------------------------------------------------------

TEST(UcxTag, RoundTrip) {
  const TagParts cases[] = {{kEncToLlmFwd, 0, 0, 0},
                            {kLlmToEncBwd, 12345, 7, 999},
                            {kLlmToGenFwd, (1u << 20) - 1, 255, 0xFFFFFFFFu},
                            {kGenToLlmBwd, 1, 1, 1},
                            {kTagKindTest, 777, 3, 42}};
  for (const TagParts& c : cases) {
    const TagParts p = SplitTag(MakeTag(c.kind, c.step, c.microbatch, c.unit));
    EXPECT_EQ(p.kind, c.kind);
    EXPECT_EQ(p.step, c.step);
    EXPECT_EQ(p.microbatch, c.microbatch);
    EXPECT_EQ(p.unit, c.unit);
  }
  // Step wraps modulo 2^20; fields never bleed into each other.
  EXPECT_EQ(MakeTag(kEncToLlmFwd, (1u << 20) + 5, 0, 0), MakeTag(kEncToLlmFwd, 5, 0, 0));
  EXPECT_EQ(MakeTag(0, 0, 0, 0xFFFFFFFFu), 0xFFFFFFFFull);
  EXPECT_EQ(MakeTag(15, 0, 0, 0), 0xF000000000000000ull);
  EXPECT_EQ(MakeTag(0, kTagStepMask, 0, 0), 0x0FFFFF0000000000ull);
  EXPECT_EQ(MakeTag(0, 0, 255, 0), 0x000000FF00000000ull);
  EXPECT_EQ(TagToString(MakeTag(kEncToLlmFwd, 5, 2, 17)), "tag{enc->llm fwd step=5 mb=2 unit=17}");
}

TEST(UcxChannel, TwoChannelsOneProcessOutOfOrder) {
  auto a = MakeChannel(), b = MakeChannel();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Connect("b", b->address()).ok());
  ASSERT_TRUE(b->Connect("a", a->address()).ok());
  EXPECT_EQ(a->Connect("b", b->address()).code(), StatusCode::kAlreadyExists);

  struct Msg {
    std::vector<int64_t> shape;
    size_t n;
  };
  const std::vector<Msg> msgs = {{{0}, 0}, {{}, 1}, {{10, 100}, 1000}, {{4, 256, 1024}, 1 << 20}};
  for (int dir = 0; dir < 2; ++dir) {
    UcxChannel* src = dir == 0 ? a.get() : b.get();
    UcxChannel* dst = dir == 0 ? b.get() : a.get();
    const std::string dst_name = dir == 0 ? "b" : "a";
    const uint64_t kind = dir == 0 ? kEncToLlmFwd : kLlmToEncBwd;
    // Receives for tags 3,2,1,0 before the sends 0,1,2,3.
    std::vector<Req> recvs(msgs.size()), sends;
    for (size_t i = msgs.size(); i-- > 0;) {
      auto r = dst->Irecv(MakeTag(kind, 1, 0, static_cast<uint32_t>(i)));
      ASSERT_TRUE(r.ok());
      recvs[i] = *r;
    }
    for (size_t i = 0; i < msgs.size(); ++i) {
      const uint64_t tag = MakeTag(kind, 1, 0, static_cast<uint32_t>(i));
      auto s = src->Isend(dst_name, tag, msgs[i].shape, Payload(tag, msgs[i].n));
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      sends.push_back(*s);
    }
    std::vector<Req> all = recvs;
    all.insert(all.end(), sends.begin(), sends.end());
    Status st = DriveAll({a.get(), b.get()}, all, 20);
    ASSERT_TRUE(st.ok()) << st.ToString();
    for (size_t i = 0; i < msgs.size(); ++i) {
      EXPECT_EQ(recvs[i]->shape(), msgs[i].shape) << "message " << i;
      EXPECT_TRUE(BitIdentical(recvs[i]->data(), Payload(recvs[i]->tag(), msgs[i].n))) << "message " << i;
    }
  }
  EXPECT_EQ(a->inflight(), 0u);
  EXPECT_EQ(b->inflight(), 0u);
}

// A received message carries its send time; the receiver brackets its
// arrival between its last look that found it incomplete and its first look
// that found it complete.
TEST(UcxChannel, ReceivedMessagesCarryTheirTransitWindow) {
  auto a = MakeChannel(), b = MakeChannel();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Connect("b", b->address()).ok());
  const uint64_t tag = MakeTag(kEncToLlmFwd, 7, 1, 3);
  auto r = b->Irecv(tag);
  ASSERT_TRUE(r.ok());
  b->Progress();  // looked at it: not here yet
  const double before_send = UnixNowSeconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto s = a->Isend("b", tag, {4, 8}, Payload(tag, 32));
  ASSERT_TRUE(s.ok());
  const double after_send = UnixNowSeconds();
  Status st = DriveAll({a.get(), b.get()}, {*r, *s}, 20);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const UcxChannel::Request& m = **r;
  EXPECT_GE(m.sent_unix(), before_send);
  EXPECT_LE(m.sent_unix(), after_send);
  EXPECT_GT(m.last_incomplete_unix(), 0.0);
  EXPECT_LE(m.last_incomplete_unix(), m.completed_unix());
  EXPECT_GE(m.completed_unix(), m.sent_unix());
  EXPECT_LT(m.completed_unix() - m.sent_unix(), 5.0);
}

TEST(UcxChannel, RejectsBadSends) {
  auto a = MakeChannel();
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Connect("self", a->address()).ok());
  EXPECT_EQ(a->Isend("nobody", 1, {1}, {1.f}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(a->Isend("self", 1, {2}, {1.f}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a->Isend("self", 1, {1, 1, 1, 1, 1}, {1.f}).status().code(), StatusCode::kInvalidArgument);
  // Loopback to our own worker works too.
  auto r = a->Irecv(5);
  auto s = a->Isend("self", 5, {3}, {1.f, 2.f, 3.f});
  ASSERT_TRUE(r.ok() && s.ok());
  ASSERT_TRUE(a->WaitAll({*r, *s}, 5).ok());
  EXPECT_EQ((*r)->data(), (std::vector<float>{1.f, 2.f, 3.f}));
}

TEST(UcxChannel, ReceiveTimesOutNamingTag) {
  auto a = MakeChannel(/*timeout_seconds=*/0.5);
  ASSERT_TRUE(a);
  auto r = a->Irecv(MakeTag(kLlmToGenFwd, 7, 3, 11), "gen/0");
  ASSERT_TRUE(r.ok());
  const double t0 = NowSeconds();
  Status st = a->Wait(**r);
  const double waited = NowSeconds() - t0;
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
  EXPECT_NE(st.message().find("tag{llm->gen fwd step=7 mb=3 unit=11}"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("gen/0"), std::string::npos) << st.message();
  EXPECT_GE(waited, 0.45);
  EXPECT_LT(waited, 3.0);
  EXPECT_FALSE((*r)->done());  // still posted: may be waited on again or cancelled
  a->Cancel(**r);
  EXPECT_TRUE((*r)->done());
  EXPECT_EQ((*r)->status().code(), StatusCode::kUnavailable);
}

TEST(UcxChannel, TwoProcessesManyMessagesBothWays) {
  constexpr int kMessages = 64;
  // Sizes from 0 to ~8k floats plus a few rendezvous-sized ones.
  auto size_of = [](int i) -> size_t { return i % 16 == 15 ? 300000 + i : static_cast<size_t>(i) * 131 % 8192; };
  // Each side posts all receives, then all sends, then waits for everything.
  auto exchange = [&](UcxChannel& ch, const std::string& peer, uint32_t send_kind, uint32_t recv_kind) -> Status {
    std::vector<Req> recvs, all;
    for (int i = 0; i < kMessages; ++i) {
      ASSIGN_OR_RETURN(Req r, ch.Irecv(MakeTag(recv_kind, 100 + i / 8, i % 8, 1000 + i), peer));
      recvs.push_back(r);
    }
    for (int i = 0; i < kMessages; ++i) {
      const uint64_t tag = MakeTag(send_kind, 100 + i / 8, i % 8, 1000 + i);
      const int64_t n = static_cast<int64_t>(size_of(i));
      ASSIGN_OR_RETURN(Req s, ch.Isend(peer, tag, {1, n}, Payload(tag, static_cast<size_t>(n))));
      all.push_back(s);
    }
    all.insert(all.end(), recvs.begin(), recvs.end());
    RETURN_IF_ERROR(ch.WaitAll(all));
    for (int i = 0; i < kMessages; ++i) {
      const int64_t n = static_cast<int64_t>(size_of(i));
      if (recvs[i]->shape() != std::vector<int64_t>{1, n} ||
          !BitIdentical(recvs[i]->data(), Payload(recvs[i]->tag(), static_cast<size_t>(n)))) {
        return Status::DataLoss("message " + std::to_string(i) + " differs");
      }
    }
    return Status::Ok();
  };

  ChildProcess child = ChildProcess::ForkWithSocket([&](int fd) -> int {
    auto ch = ConnectOverSocket(fd, "parent", 20);
    CHILD_CHECK(ch != nullptr);
    CHILD_OK(exchange(*ch, "parent", kLlmToEncBwd, kEncToLlmFwd));
    char bye = 0;
    CHILD_CHECK(ReadFull(fd, &bye, 1));  // parent is done too: safe to close
    return 0;
  });
  ASSERT_TRUE(child.started());
  auto ch = ConnectOverSocket(child.fd(), "child", 20);
  ASSERT_TRUE(ch != nullptr);
  Status st = exchange(*ch, "child", kEncToLlmFwd, kLlmToEncBwd);
  EXPECT_TRUE(st.ok()) << st.ToString();
  char bye = 1;
  WriteFull(child.fd(), &bye, 1);
  EXPECT_EQ(child.Wait(), 0);
}

TEST(UcxChannel, DeadPeerReceiveTimesOut) {
  ChildProcess child = ChildProcess::ForkWithSocket([&](int fd) -> int {
    auto ch = ConnectOverSocket(fd, "parent", 20);
    char connected = 0;  // wait until the parent has connected, then die without sending
    return ch && ReadFull(fd, &connected, 1) ? 0 : 1;
  });
  ASSERT_TRUE(child.started());
  auto ch = ConnectOverSocket(child.fd(), "child", 0.5);
  ASSERT_TRUE(ch != nullptr);
  char connected = 1;
  WriteFull(child.fd(), &connected, 1);
  EXPECT_EQ(child.Wait(), 0);  // the peer is gone now
  auto r = ch->Irecv(MakeTag(kGenToLlmBwd, 3, 1, 5), "child");
  ASSERT_TRUE(r.ok());
  const double t0 = NowSeconds();
  Status st = ch->Wait(**r);
  EXPECT_EQ(st.code(), StatusCode::kDeadlineExceeded) << st.ToString();
  EXPECT_NE(st.message().find("step=3 mb=1 unit=5"), std::string::npos) << st.message();
  EXPECT_LT(NowSeconds() - t0, 3.0);
  // A large send to the dead peer cannot complete either: bounded as well.
  auto s = ch->Isend("child", MakeTag(kLlmToEncBwd, 3, 1, 5), {1 << 20}, std::vector<float>(1 << 20, 1.f));
  if (s.ok()) {
    const double t2 = NowSeconds();
    Status ss = ch->Wait(**s);
    EXPECT_FALSE(ss.ok());
    EXPECT_TRUE(ss.code() == StatusCode::kDeadlineExceeded || ss.code() == StatusCode::kUnavailable) << ss.ToString();
    EXPECT_LT(NowSeconds() - t2, 3.0);
  } else {
    EXPECT_EQ(s.status().code(), StatusCode::kUnavailable) << s.status().ToString();
  }
  const double t1 = NowSeconds();
  ch.reset();  // closing the endpoint to a dead peer must not hang either
  EXPECT_LT(NowSeconds() - t1, 10.0);
}

TEST(UcxChannel, TwoProcessesLatencyAndBandwidth) {
  constexpr int kWarmup = 3, kIters = 20, kSmallIters = 2000;
  constexpr size_t kBig = (4u << 20) / sizeof(float);  // 4 MB
  // Child: echo every message back with unit+1.
  ChildProcess child = ChildProcess::ForkWithSocket([&](int fd) -> int {
    auto ch = ConnectOverSocket(fd, "parent", 20);
    CHILD_CHECK(ch != nullptr);
    for (int i = 0; i < kWarmup + kIters + kSmallIters; ++i) {
      auto r = ch->Irecv(MakeTag(kTagKindTest, i, 0, 0));
      CHILD_CHECK(r.ok());
      CHILD_OK(ch->Wait(**r));
      auto s = ch->Isend("parent", MakeTag(kTagKindTest, i, 0, 1), (*r)->shape(), (*r)->TakeData());
      CHILD_CHECK(s.ok());
      CHILD_OK(ch->Wait(**s));
    }
    char bye = 0;
    CHILD_CHECK(ReadFull(fd, &bye, 1));
    return 0;
  });
  ASSERT_TRUE(child.started());
  auto ch = ConnectOverSocket(child.fd(), "child", 20);
  ASSERT_TRUE(ch != nullptr);
  auto round_trip = [&](int i, size_t n) -> Status {
    ASSIGN_OR_RETURN(Req r, ch->Irecv(MakeTag(kTagKindTest, i, 0, 1)));
    ASSIGN_OR_RETURN(Req s, ch->Isend("child", MakeTag(kTagKindTest, i, 0, 0), {static_cast<int64_t>(n)},
                                      std::vector<float>(n, 0.5f)));
    RETURN_IF_ERROR(ch->WaitAll({s, r}));
    return r->data().size() == n ? Status::Ok() : Status::DataLoss("echo size");
  };
  int i = 0;
  for (; i < kWarmup; ++i) ASSERT_TRUE(round_trip(i, kBig).ok());
  Stopwatch big;
  for (; i < kWarmup + kIters; ++i) ASSERT_TRUE(round_trip(i, kBig).ok());
  const double big_s = big.Seconds();
  Stopwatch small;
  for (; i < kWarmup + kIters + kSmallIters; ++i) ASSERT_TRUE(round_trip(i, 1).ok());
  const double small_s = small.Seconds();
  char bye = 1;
  WriteFull(child.fd(), &bye, 1);
  EXPECT_EQ(child.Wait(), 0);
  std::printf("[ucx] 4 MB round trip %.3f ms, bandwidth %.2f GB/s (2 x 4 MB per round trip)\n",
              big_s / kIters * 1e3, 2.0 * kIters * kBig * sizeof(float) / big_s / 1e9);
  std::printf("[ucx] 1-float round trip %.1f us\n", small_s / kSmallIters * 1e6);
}

}  // namespace
}  // namespace braid::comm
