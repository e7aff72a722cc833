// Blocking key-value store used for rendezvous (Gloo, later NCCL ids).
// Implementations: in-memory (tests, single process), the orchestrator's gRPC
// rendezvous service (later). Keys are written once per rendezvous; readers
// block until the writer has published.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace braid::comm {

class KvStore {
 public:
  virtual ~KvStore() = default;

  // Publishes `value` under `key` (overwrites) and wakes readers blocked on it.
  virtual Status Set(const std::string& key, const std::vector<uint8_t>& value) = 0;
  // Blocks until the key exists or the timeout passes (DeadlineExceeded naming the key).
  // timeout_seconds <= 0 checks once without waiting.
  virtual StatusOr<std::vector<uint8_t>> Get(const std::string& key, double timeout_seconds) = 0;
};

// Process-local store: a map under a mutex, readers wait on a condition
// variable. Thread-safe; any thread may call anything.
class InMemoryKvStore : public KvStore {
 public:
  Status Set(const std::string& key, const std::vector<uint8_t>& value) override;
  StatusOr<std::vector<uint8_t>> Get(const std::string& key, double timeout_seconds) override;

  // Number of keys stored (tests and debugging).
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<uint8_t>> values_;
};

// A view of a store under a key prefix (e.g. "job-7/encoder/step-0/"), so
// groups do not collide. Does not own `base`, which must outlive the view.
// Thread-safe when the base store is.
class PrefixKvStore : public KvStore {
 public:
  PrefixKvStore(KvStore* base, std::string prefix);

  Status Set(const std::string& key, const std::vector<uint8_t>& value) override;
  StatusOr<std::vector<uint8_t>> Get(const std::string& key, double timeout_seconds) override;

  const std::string& prefix() const { return prefix_; }

 private:
  KvStore* base_;
  std::string prefix_;
};

}  // namespace braid::comm
