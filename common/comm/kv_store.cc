#include "common/comm/kv_store.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/base/check.h"

namespace braid::comm {

Status InMemoryKvStore::Set(const std::string& key, const std::vector<uint8_t>& value) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    values_[key] = value;
  }
  cv_.notify_all();
  return Status::Ok();
}

StatusOr<std::vector<uint8_t>> InMemoryKvStore::Get(const std::string& key, double timeout_seconds) {
  // Clamp before converting so a huge timeout cannot overflow the clock.
  const double clamped = timeout_seconds > 0 ? std::min(timeout_seconds, 1e7) : 0.0;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(clamped));
  std::unique_lock<std::mutex> lock(mu_);
  const bool found = cv_.wait_until(lock, deadline, [&] { return values_.count(key) != 0; });
  if (!found) {
    return Status(StatusCode::kDeadlineExceeded,
                  "key '" + key + "' not set within " + std::to_string(timeout_seconds) + " s");
  }
  return values_.at(key);
}

size_t InMemoryKvStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return values_.size();
}

PrefixKvStore::PrefixKvStore(KvStore* base, std::string prefix) : base_(base), prefix_(std::move(prefix)) {
  BRAID_CHECK(base_ != nullptr);
}

Status PrefixKvStore::Set(const std::string& key, const std::vector<uint8_t>& value) {
  return base_->Set(prefix_ + key, value);
}

StatusOr<std::vector<uint8_t>> PrefixKvStore::Get(const std::string& key, double timeout_seconds) {
  return base_->Get(prefix_ + key, timeout_seconds);
}

}  // namespace braid::comm
