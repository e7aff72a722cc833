// RendezvousStore: the key-value store workers bootstrap communicators with
// (UCX addresses "job/<id>/ucx/<role>/<rank>", Gloo keys, NCCL ids). Keys of
// a job share the prefix "job/<id>/" and are dropped when the job is final.
//
// Threads: thread-safe. Get() blocks the calling thread (a GetKey handler)
// until the key is set, the wait passes or Shutdown().
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>

#include "common/base/status.h"

namespace braid::orchestrator {

class RendezvousStore {
 public:
  // Waits longer than this are cut to it (a GetKey handler holds a thread).
  static constexpr double kMaxWaitSeconds = 300;

  // Sets or overwrites. InvalidArgument for an empty key.
  Status Set(const std::string& key, std::string value);
  // The value, waiting up to wait_seconds for the key to appear.
  // DeadlineExceeded "rendezvous key '<key>' was not set within <w> s";
  // Unavailable after Shutdown().
  StatusOr<std::string> Get(const std::string& key, double wait_seconds);
  // Drops every key starting with prefix; returns how many.
  size_t DropPrefix(const std::string& prefix);
  size_t size() const;
  void Shutdown();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> kv_;
  bool shutdown_ = false;
};

}  // namespace braid::orchestrator
