// HostCores: processes on one host publish the threads they compute with in
// a shared table; adaptive teams size themselves to the cores left; slots of
// dead processes are reclaimed; a process that starts computing waits, but
// boundedly, for wide peers to narrow. Every scenario runs in forked children
// (the table is joined once per process; tests/fork_child.h bounds every wait
// on them) on a table private to the test.
#include "common/base/host_cores.h"

#include <gtest/gtest.h>
#include <omp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "common/base/clock.h"
#include "common/base/threads.h"
#include "tests/fork_child.h"

namespace braid {
namespace {

using testing_util::ChildProcess;
using testing_util::ReadFull;
using testing_util::WriteFull;

std::string TableName() { return "/braid-cores-test-" + std::to_string(getpid()); }

// Polls until `cond` holds (up to 5 s).
bool Eventually(const std::function<bool()>& cond) {
  for (int i = 0; i < 500; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

class HostCoresTest : public ::testing::Test {
 protected:
  void TearDown() override { shm_unlink(TableName().c_str()); }
};

TEST_F(HostCoresTest, OthersSeeABusyProcessAndForgetItWhenItDies) {
  const std::string name = TableName();
  // A child that computes "forever" (busy with one thread) until killed.
  ChildProcess busy = ChildProcess::ForkWithSocket([&](int fd) {
    if (!JoinHostCores(1, false, name).ok()) return 1;
    SetHostBusy(true);
    char c = 1;
    if (!WriteFull(fd, &c, 1)) return 2;
    pause();
    return 0;
  });
  ASSERT_TRUE(busy.started());
  char c;
  ASSERT_TRUE(ReadFull(busy.fd(), &c, 1)) << "busy child did not get busy; it exited with " << busy.Wait()
                                           << " (1: join failed)";
  // An observer sees it, then (after it is killed) no longer does.
  ChildProcess observer = ChildProcess::ForkWithSocket([&](int fd) {
    if (!JoinHostCores(1, false, name).ok()) return 1;
    if (OtherBusyThreads() != 1) return 2;
    if (!WriteFull(fd, &c, 1)) return 3;
    return Eventually([] { return OtherBusyThreads() == 0; }) ? 0 : 4;
  });
  ASSERT_TRUE(observer.started());
  const bool seen = ReadFull(observer.fd(), &c, 1);
  busy.Signal(SIGKILL);
  EXPECT_EQ(busy.Wait(), 128 + SIGKILL);
  EXPECT_EQ(observer.Wait(), 0) << "1: join failed, 2: busy peer not seen, 4: dead peer still counted";
  EXPECT_TRUE(seen) << "the observer never reported seeing the busy peer";
}

// The parent relays between the adaptive process (`wide`) and its peer, so
// either one dying ends the exchange (EOF) instead of blocking the other.
TEST_F(HostCoresTest, AdaptiveTeamNarrowsWhileAnotherProcessComputes) {
  const std::string name = TableName();
  const int cores = std::max(1, int(std::thread::hardware_concurrency()));
  ChildProcess peer = ChildProcess::ForkWithSocket([&](int fd) {
    if (!JoinHostCores(1, false, name).ok()) return 1;
    char c;
    if (!ReadFull(fd, &c, 1)) return 2;
    SetHostBusy(true);
    if (!WriteFull(fd, &c, 1)) return 3;
    if (!ReadFull(fd, &c, 1)) return 4;
    SetHostBusy(false);
    if (!WriteFull(fd, &c, 1)) return 5;
    return 0;
  });
  ASSERT_TRUE(peer.started());
  ChildProcess wide = ChildProcess::ForkWithSocket([&](int fd) {
    SetComputeThreads(cores + 1);
    if (!JoinHostCores(cores + 1, true, name).ok()) return 1;
    char c = 1;
    AdaptComputeThreads();  // alone: every core
    if (omp_get_max_threads() != cores) return 2;
    if (!WriteFull(fd, &c, 1) || !ReadFull(fd, &c, 1)) return 3;
    AdaptComputeThreads();  // the peer computes on one core: the rest (at least one)
    if (omp_get_max_threads() != std::max(1, cores - 1)) return 4;
    if (!WriteFull(fd, &c, 1) || !ReadFull(fd, &c, 1)) return 5;
    AdaptComputeThreads();  // the peer is idle again
    if (omp_get_max_threads() != cores) return 6;
    return 0;
  });
  ASSERT_TRUE(wide.started());
  // wide -> peer: "go" (get busy, then idle); peer -> wide: "done".
  auto relay = [](ChildProcess& from, ChildProcess& to) {
    char c;
    return ReadFull(from.fd(), &c, 1) && WriteFull(to.fd(), &c, 1);
  };
  bool relayed = true;
  for (int round = 0; round < 2 && relayed; ++round) relayed = relay(wide, peer) && relay(peer, wide);
  EXPECT_EQ(wide.Wait(), 0) << "2: not widened to all cores, 4: not narrowed, 6: not widened again";
  EXPECT_EQ(peer.Wait(), 0);
  EXPECT_TRUE(relayed);
}

// SetHostBusy(true) first waits for peers computing with more than one
// thread to narrow, but at most ~20 ms: a fixed team that never narrows
// cannot stall the process that starts. Peers that are idle cost no wait.
TEST_F(HostCoresTest, StartingWaitsBoundedlyForAWidePeerAndNotForAnIdleOne) {
  const std::string name = TableName();
  constexpr int kPeerThreads = 4;
  // A fixed (not adaptive) team of 4: it never narrows. Idle until told.
  ChildProcess peer = ChildProcess::ForkWithSocket([&](int fd) {
    if (!JoinHostCores(kPeerThreads, false, name).ok()) return 1;
    char c = 1;
    if (!WriteFull(fd, &c, 1)) return 2;  // joined, idle
    if (!ReadFull(fd, &c, 1)) return 3;
    SetHostBusy(true);
    if (!WriteFull(fd, &c, 1)) return 4;  // computing with 4 threads
    if (!ReadFull(fd, &c, 1)) return 5;
    SetHostBusy(false);
    return 0;
  });
  ASSERT_TRUE(peer.started());
  // Measures SetHostBusy(true) with the peer idle, then with it busy; writes
  // both waits (seconds) back.
  ChildProcess starter = ChildProcess::ForkWithSocket([&](int fd) {
    if (!JoinHostCores(1, false, name).ok()) return 1;
    auto timed_start = [] {
      const double t0 = NowSeconds();
      SetHostBusy(true);
      const double waited = NowSeconds() - t0;
      SetHostBusy(false);
      return waited;
    };
    char c;
    if (!ReadFull(fd, &c, 1)) return 2;  // the peer has joined and is idle
    if (OtherBusyThreads() != 0) return 3;
    const double idle_wait = timed_start();
    if (!WriteFull(fd, &idle_wait, sizeof idle_wait)) return 4;
    if (!ReadFull(fd, &c, 1)) return 5;  // the peer computes with 4 threads
    if (OtherBusyThreads() != kPeerThreads) return 6;
    const double busy_wait = timed_start();
    if (!WriteFull(fd, &busy_wait, sizeof busy_wait)) return 7;
    return 0;
  });
  ASSERT_TRUE(starter.started());
  char c = 1;
  double idle_wait = -1, busy_wait = -1;
  const bool exchanged = ReadFull(peer.fd(), &c, 1) && WriteFull(starter.fd(), &c, 1) &&
                         ReadFull(starter.fd(), &idle_wait, sizeof idle_wait) && WriteFull(peer.fd(), &c, 1) &&
                         ReadFull(peer.fd(), &c, 1) && WriteFull(starter.fd(), &c, 1) &&
                         ReadFull(starter.fd(), &busy_wait, sizeof busy_wait) && WriteFull(peer.fd(), &c, 1);
  EXPECT_EQ(starter.Wait(), 0) << "3: idle peer counted as busy, 6: busy peer's threads not seen";
  EXPECT_EQ(peer.Wait(), 0);
  ASSERT_TRUE(exchanged);
  EXPECT_GE(idle_wait, 0.0);
  EXPECT_LT(idle_wait, 0.015) << "an idle peer holds no extra threads: no wait";
  EXPECT_GE(busy_wait, 0.010) << "a peer computing with " << kPeerThreads << " threads is waited for";
  EXPECT_LT(busy_wait, 0.200) << "the wait for a peer that never narrows is capped (~20 ms)";
}

}  // namespace
}  // namespace braid
