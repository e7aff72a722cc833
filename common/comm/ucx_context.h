// UcxContext: one ucp_context + one ucp_worker (the process's UCX endpoint
// of communication), with the loopback/shared-memory defaults braid needs,
// and the single helper that waits on a UCX request.
//
// Threading: UCX is initialised in single-thread mode. Every call on a
// UcxContext (and on the UcxChannel that owns it) must come from one thread,
// the worker's communication thread. Separate UcxContexts may live on
// separate threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/base/status.h"

// Opaque UCX handles (ucp/api/ucp_def.h); keeps ucp.h out of our headers.
struct ucp_context;
struct ucp_worker;

namespace braid::comm {

struct UcxOptions {
  // UCX_NET_DEVICES unless that variable is set in the environment. "lo":
  // processes on one machine; without it UCX also tries eth0 (4x slower).
  std::string net_devices = "lo";
  // UCX_TLS unless set in the environment; empty = UCX's own choice
  // (shared memory + CMA between processes on one machine, tcp otherwise).
  std::string transports;
  // Default deadline of UcxChannel::Wait / WaitAll: no wait hangs forever.
  double timeout_seconds = 60;
  // Deadline for flushing and closing each endpoint at destruction.
  double close_timeout_seconds = 5;
};

class UcxContext {
 public:
  static StatusOr<std::unique_ptr<UcxContext>> Create(const UcxOptions& opt);
  ~UcxContext();  // destroys the worker, then the context
  UcxContext(const UcxContext&) = delete;
  UcxContext& operator=(const UcxContext&) = delete;

  ucp_worker* worker() const { return worker_; }
  // The worker address to publish (an opaque byte string).
  const std::vector<uint8_t>& address() const { return address_; }
  // One ucp_worker_progress; returns how many events it processed.
  unsigned Progress();
  // Waits for a UCX operation's handle: nullptr = completed immediately,
  // an error pointer = failed, else progress until the request completes or
  // `timeout_seconds` pass (then it is freed and DeadlineExceeded returned).
  // `what` names the operation in errors.
  Status WaitRequest(void* status_ptr, const std::string& what, double timeout_seconds);

 private:
  UcxContext() = default;
  ucp_context* context_ = nullptr;
  ucp_worker* worker_ = nullptr;
  std::vector<uint8_t> address_;
};

// Backoff for polling loops: spins while UCX makes progress, then yields,
// then naps briefly, so two busy processes on 2 cores do not starve each other.
class PollBackoff {
 public:
  void Pause(bool progressed);

 private:
  uint32_t idle_ = 0;
};

}  // namespace braid::comm
