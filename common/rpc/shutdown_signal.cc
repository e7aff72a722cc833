#include "common/rpc/shutdown_signal.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace braid::rpc {
namespace {

// The self-pipe; -1 when no instance is installed.
std::atomic<int> g_write_fd{-1};
std::atomic<bool> g_installed{false};
struct sigaction g_old_term, g_old_int;

constexpr unsigned char kWakeByte = 0;  // Trigger() and the destructor; a signal writes its number

void OnSignal(int signo) {
  const int saved = errno;
  const int fd = g_write_fd.load();
  if (fd >= 0) {
    const unsigned char b = static_cast<unsigned char>(signo);
    [[maybe_unused]] ssize_t n = ::write(fd, &b, 1);
  }
  errno = saved;
}

}  // namespace

Status ShutdownSignal::Install() {
  bool expected = false;
  if (!g_installed.compare_exchange_strong(expected, true))
    return Status::FailedPrecondition("a ShutdownSignal is already installed in this process");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    g_installed = false;
    return Status::Internal(std::string("pipe2: ") + std::strerror(errno));
  }
  g_write_fd = fds[1];
  watcher_ = std::thread([this, rfd = fds[0]] {
    unsigned char b = 0;
    while (true) {
      const ssize_t n = ::read(rfd, &b, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // write end closed: the destructor
      if (b == 0xff) break;
      Set(b == kWakeByte ? 0 : b);
    }
    ::close(rfd);
  });
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &sa, &g_old_term);
  ::sigaction(SIGINT, &sa, &g_old_int);
  installed_ = true;
  return Status::Ok();
}

ShutdownSignal::~ShutdownSignal() {
  if (!installed_) return;
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  ::sigaction(SIGINT, &g_old_int, nullptr);
  const int fd = g_write_fd.exchange(-1);
  const unsigned char stop = 0xff;
  [[maybe_unused]] ssize_t n = ::write(fd, &stop, 1);
  if (watcher_.joinable()) watcher_.join();
  ::close(fd);
  g_installed = false;
}

void ShutdownSignal::Set(int signo) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!requested_) signal_ = signo;
    requested_ = true;
  }
  cv_.notify_all();
}

void ShutdownSignal::Trigger() { Set(0); }

void ShutdownSignal::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return requested_.load(); });
}

bool ShutdownSignal::WaitFor(double seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return requested_.load(); });
}

}  // namespace braid::rpc
