#include "services/orchestrator/rendezvous_store.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace braid::orchestrator {

Status RendezvousStore::Set(const std::string& key, std::string value) {
  if (key.empty()) return Status::InvalidArgument("key: must not be empty");
  std::lock_guard<std::mutex> lock(mu_);
  kv_[key] = std::move(value);
  cv_.notify_all();
  return Status::Ok();
}

StatusOr<std::string> RendezvousStore::Get(const std::string& key, double wait_seconds) {
  if (key.empty()) return Status::InvalidArgument("key: must not be empty");
  // NaN (a client's bad value) would pass std::clamp and overflow wait_for (fuzz/rpc_fuzz.cc).
  const double wait = std::isnan(wait_seconds) ? 0.0 : std::clamp(wait_seconds, 0.0, kMaxWaitSeconds);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::duration<double>(wait), [&] { return shutdown_ || kv_.count(key) > 0; });
  if (auto it = kv_.find(key); it != kv_.end()) return it->second;
  if (shutdown_) return Status::Unavailable("orchestrator is shutting down");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", wait);
  return Status(StatusCode::kDeadlineExceeded, "rendezvous key '" + key + "' was not set within " + buf + " s");
}

size_t RendezvousStore::DropPrefix(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto it = kv_.lower_bound(prefix); it != kv_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = kv_.erase(it);
    ++n;
  }
  return n;
}

size_t RendezvousStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kv_.size();
}

void RendezvousStore::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

}  // namespace braid::orchestrator
