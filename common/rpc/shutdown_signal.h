// SIGTERM/SIGINT -> clean shutdown. The handlers only write one byte to a
// self-pipe (async-signal-safe); a watcher thread reads it and wakes
// everything blocked in Wait()/WaitFor(). Trigger() does the same from code
// (tests, a fatal error).
//
// Threads: construct and destroy on the main thread; at most one instance
// per process at a time (the handlers are process-wide). requested(),
// Wait(), WaitFor() and Trigger() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/base/status.h"

namespace braid::rpc {

class ShutdownSignal {
 public:
  ShutdownSignal() = default;
  ~ShutdownSignal();  // restores the previous handlers
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  // Installs the SIGTERM and SIGINT handlers. FailedPrecondition if another
  // instance is installed.
  Status Install();

  bool requested() const { return requested_.load(); }
  // The signal that asked for shutdown (SIGTERM, SIGINT), or 0 for Trigger().
  int signal_number() const { return signal_.load(); }
  void Wait();
  // True when shutdown was requested within `seconds`.
  bool WaitFor(double seconds);
  void Trigger();

 private:
  void Set(int signo);

  std::atomic<bool> requested_{false};
  std::atomic<int> signal_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread watcher_;
  bool installed_ = false;
};

}  // namespace braid::rpc
