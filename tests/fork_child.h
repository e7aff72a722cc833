// Child processes for tests that need more than one process (fork, or fork +
// exec), with deadlines: no wait on a child, and no read from one, blocks
// for ever. A child reports through its exit code (gtest assertions do not
// cross fork). A ChildProcess that goes away while its child still runs (a
// failed ASSERT returned early, say) kills and reaps it, so no stray process
// outlives the test holding ctest's output pipe open.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/base/clock.h"

namespace braid::testing_util {

// What ChildProcess::Wait returns for a child that had to be killed after
// its deadline (or that was never started).
inline constexpr int kChildTimedOut = -1;

// Reads exactly n bytes from fd; false on EOF, error, or when no byte came
// for timeout_ms.
inline bool ReadFull(int fd, void* buf, size_t n, int timeout_ms = 10000) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    pollfd pfd{fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    const ssize_t got = read(fd, p, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

// Writes exactly n bytes to fd; false on error (a closed peer: EPIPE, since
// SIGPIPE is ignored in the parent by ChildProcess).
inline bool WriteFull(int fd, const void* buf, size_t n) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (n > 0) {
    const ssize_t put = write(fd, p, n);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    p += put;
    n -= static_cast<size_t>(put);
  }
  return true;
}

class ChildProcess {
 public:
  // Forks a child that runs body() and _exits with its result (125 if it
  // throws).
  static ChildProcess Fork(const std::function<int()>& body) {
    return ForkWithSocket([&](int) { return body(); });
  }

  // Forks a child connected to the parent by a socketpair: the child runs
  // body(its end) and _exits with the result; fd() is the parent's end. The
  // parent holds no copy of the child's end, so ReadFull(fd(), ...) sees EOF
  // as soon as the child is gone.
  static ChildProcess ForkWithSocket(const std::function<int(int)>& body) {
    IgnoreSigpipe();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return ChildProcess();
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      close(sv[0]);
      int rc = 125;
      try {
        rc = body(sv[1]);
      } catch (...) {
      }
      std::fflush(nullptr);
      _exit(rc);
    }
    close(sv[1]);
    if (pid < 0) {
      close(sv[0]);
      return ChildProcess();
    }
    return ChildProcess(pid, sv[0]);
  }

  // Runs the program args[0] with arguments args[1..] in a child (exit code
  // 127 if it cannot be executed).
  static ChildProcess Exec(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      signal(SIGPIPE, SIG_DFL);  // the parent may ignore it (ForkWithSocket): the program should not
      execv(argv[0], argv.data());
      _exit(127);
    }
    return ChildProcess(pid < 0 ? -1 : pid, -1);
  }

  ChildProcess() = default;
  ChildProcess(ChildProcess&& o) noexcept : pid_(std::exchange(o.pid_, -1)), fd_(std::exchange(o.fd_, -1)) {}
  ChildProcess& operator=(ChildProcess&& o) noexcept {
    if (this != &o) {
      KillAndReap();
      pid_ = std::exchange(o.pid_, -1);
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { KillAndReap(); }

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int fd() const { return fd_; }  // the parent's end of the socketpair, or -1

  // Sends `sig` to the (not yet reaped) child.
  bool Signal(int sig) const { return pid_ > 0 && kill(pid_, sig) == 0; }

  // Closes the parent's end of the socketpair (the child reads EOF).
  void CloseFd() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  // Closes the parent's end of the socketpair (a child still reading from it
  // sees EOF instead of waiting for a parent that is done), then waits for
  // the child to exit. Returns its exit code, 128 + the signal that ended it,
  // or kChildTimedOut if it still ran after timeout_seconds (it is then
  // killed) or was never started.
  int Wait(double timeout_seconds = 20) {
    CloseFd();
    if (pid_ <= 0) return kChildTimedOut;
    const double deadline = NowSeconds() + timeout_seconds;
    int status = 0;
    for (;;) {
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (r < 0 && errno != EINTR) {  // not our child any more: nothing to wait for
        pid_ = -1;
        return kChildTimedOut;
      }
      if (NowSeconds() > deadline) {
        KillAndReap();
        return kChildTimedOut;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  ChildProcess(pid_t pid, int fd) : pid_(pid), fd_(fd) {}

  // A write to a socket whose child died must fail (EPIPE), not kill the test.
  static void IgnoreSigpipe() { signal(SIGPIPE, SIG_IGN); }

  void KillAndReap() {
    CloseFd();
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
};

}  // namespace braid::testing_util
