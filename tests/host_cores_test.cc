// HostCores: processes on one host publish the threads they compute with in
// a shared table; adaptive teams size themselves to the cores left; slots of
// dead processes are reclaimed. Every scenario runs in forked children (the
// table is joined once per process) on a table private to the test.
#include "common/base/host_cores.h"

#include <gtest/gtest.h>
#include <omp.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "common/base/threads.h"

namespace braid {
namespace {

std::string TableName() { return "/braid-cores-test-" + std::to_string(getpid()); }

// Runs `body` in a child; returns its exit code (body's return value).
pid_t Spawn(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  return pid;
}
int Reap(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

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
  int pipe_fd[2];
  ASSERT_EQ(pipe(pipe_fd), 0);
  // A child that computes "forever" (busy with one thread) until killed.
  const pid_t busy = Spawn([&] {
    if (!JoinHostCores(1, false, name).ok()) return 1;
    SetHostBusy(true);
    char c = 1;
    if (write(pipe_fd[1], &c, 1) != 1) return 2;
    pause();
    return 0;
  });
  char c;
  ASSERT_EQ(read(pipe_fd[0], &c, 1), 1);
  // An observer sees it, then (after it is killed) no longer does.
  const pid_t observer = Spawn([&] {
    if (!JoinHostCores(1, false, name).ok()) return 1;
    if (OtherBusyThreads() != 1) return 2;
    if (write(pipe_fd[1], &c, 1) != 1) return 3;
    return Eventually([] { return OtherBusyThreads() == 0; }) ? 0 : 4;
  });
  ASSERT_EQ(read(pipe_fd[0], &c, 1), 1);
  kill(busy, SIGKILL);
  EXPECT_EQ(Reap(busy), 100 + SIGKILL);
  EXPECT_EQ(Reap(observer), 0) << "1: join failed, 2: busy peer not seen, 4: dead peer still counted";
  close(pipe_fd[0]);
  close(pipe_fd[1]);
}

TEST_F(HostCoresTest, AdaptiveTeamNarrowsWhileAnotherProcessComputes) {
  const std::string name = TableName();
  const int cores = std::max(1, int(std::thread::hardware_concurrency()));
  int go[2], done[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t peer = Spawn([&] {
    if (!JoinHostCores(1, false, name).ok()) return 1;
    char c;
    if (read(go[0], &c, 1) != 1) return 2;
    SetHostBusy(true);
    if (write(done[1], &c, 1) != 1) return 3;
    if (read(go[0], &c, 1) != 1) return 4;
    SetHostBusy(false);
    if (write(done[1], &c, 1) != 1) return 5;
    return 0;
  });
  const pid_t wide = Spawn([&] {
    SetComputeThreads(cores + 1);
    if (!JoinHostCores(cores + 1, true, name).ok()) return 1;
    char c = 1;
    AdaptComputeThreads();  // alone: every core
    if (omp_get_max_threads() != cores) return 2;
    if (write(go[1], &c, 1) != 1 || read(done[0], &c, 1) != 1) return 3;
    AdaptComputeThreads();  // the peer computes on one core: the rest (at least one)
    if (omp_get_max_threads() != std::max(1, cores - 1)) return 4;
    if (write(go[1], &c, 1) != 1 || read(done[0], &c, 1) != 1) return 5;
    AdaptComputeThreads();  // the peer is idle again
    if (omp_get_max_threads() != cores) return 6;
    return 0;
  });
  EXPECT_EQ(Reap(wide), 0) << "2: not widened to all cores, 4: not narrowed, 6: not widened again";
  EXPECT_EQ(Reap(peer), 0);
  for (int fd : {go[0], go[1], done[0], done[1]}) close(fd);
}

TEST_F(HostCoresTest, AFixedTeamDoesNotWaitForIdlePeers) {
  const std::string name = TableName();
  const pid_t child = Spawn([&] {
    if (!JoinHostCores(1, false, name).ok()) return 1;
    const auto t0 = std::chrono::steady_clock::now();
    SetHostBusy(true);  // nobody holds extra threads: no wait
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    SetHostBusy(false);
    return waited < 0.015 ? 0 : 2;
  });
  EXPECT_EQ(Reap(child), 0);
}

}  // namespace
}  // namespace braid
