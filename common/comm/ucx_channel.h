// UcxChannel: the point-to-point transport of the boundary communicators.
// Workers of different modules (separate processes) exchange variable-length
// float tensors, tagged by (kind, step, microbatch, unit) (see tag.h),
// asynchronously and with deadlines: no wait hangs forever on a dead peer.
//
// Wire format: one UCX tagged message per tensor, sent as a two-entry iov
// (56-byte header: up to 4 int64 dims and the send time, then the floats)
// without copying.
// A receive probes for its exact tag (removing the message from UCX's
// unexpected queue), sizes its buffer from the probed length, then receives.
//
// Threading: not thread-safe. One thread (the worker's communication thread)
// makes every call on a channel and on its requests; UCX runs single-threaded
// and nothing progresses unless that thread calls Wait/WaitAll/Test/Progress.
// Two channels in one process may be used from two threads, one each.
// A Request must not be used after its channel is destroyed (the destructor
// cancels what is still in flight; those requests read as cancelled).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/comm/ucx_context.h"

struct ucp_ep;

namespace braid::comm {

class UcxChannel {
 public:
  class Request;

  static StatusOr<std::unique_ptr<UcxChannel>> Create(const UcxOptions& opt);
  // Cancels in-flight requests, closes endpoints in a fixed order (sorted by
  // peer name), then destroys the worker and the context.
  ~UcxChannel();
  UcxChannel(const UcxChannel&) = delete;
  UcxChannel& operator=(const UcxChannel&) = delete;

  // This process's worker address, to publish (e.g. through the
  // orchestrator's rendezvous KV store).
  const std::vector<uint8_t>& address() const { return ctx_->address(); }

  // Connects to a peer by its published worker address; `peer` is a name
  // like "llm/1". AlreadyExists if the name is taken.
  Status Connect(const std::string& peer, const std::vector<uint8_t>& address);
  bool IsConnected(const std::string& peer) const { return eps_.count(peer) != 0; }

  // Asynchronous tagged send of `data` with `shape` (at most 4 dims whose
  // product is data.size(); {} is a scalar). The handle owns the buffers
  // until completion; dropping it early is fine (the channel keeps in-flight
  // requests alive). NotFound for an unknown peer.
  StatusOr<std::shared_ptr<Request>> Isend(const std::string& peer, uint64_t tag, std::vector<int64_t> shape,
                                           std::vector<float> data);

  // Asynchronous receive of the message with exactly this tag, from any peer,
  // of any length. `expected_peer` only names the sender in errors.
  StatusOr<std::shared_ptr<Request>> Irecv(uint64_t tag, std::string expected_peer = "");

  // Progresses until `r` completes; returns its status: OK, Unavailable
  // (transfer failed: peer or transport gone; or cancelled), DataLoss
  // (malformed message). After the deadline (options' timeout_seconds unless
  // given) returns DeadlineExceeded naming the tag and peer; the request
  // stays posted (Wait again or Cancel it).
  Status Wait(Request& r);
  Status Wait(Request& r, double timeout_seconds);
  // Waits for all under one deadline; returns as soon as one has failed.
  Status WaitAll(const std::vector<std::shared_ptr<Request>>& reqs);
  Status WaitAll(const std::vector<std::shared_ptr<Request>>& reqs, double timeout_seconds);
  // One progress round without blocking; true when `r` is done.
  bool Test(Request& r);
  // Cancels `r` if not done; it then completes with kUnavailable "cancelled".
  void Cancel(Request& r);

  // One ucp_worker_progress, then advances every in-flight request (posts
  // receives whose message has arrived). Returns true if anything moved.
  bool Progress();

  const UcxOptions& options() const { return opt_; }
  size_t inflight() const { return inflight_.size(); }

 private:
  explicit UcxChannel(const UcxOptions& opt) : opt_(opt) {}
  bool Advance(Request& r);  // true if the request changed state
  Status WaitUntil(const std::vector<Request*>& reqs, double timeout_seconds);

  UcxOptions opt_;
  std::unique_ptr<UcxContext> ctx_;
  std::map<std::string, ucp_ep*> eps_;  // sorted: the close order
  std::vector<std::shared_ptr<Request>> inflight_;
  bool sent_since_progress_ = false;
};

class UcxChannel::Request {
 public:
  uint64_t tag() const { return tag_; }
  bool is_send() const { return is_send_; }
  // Destination of a send; the expected sender of a receive ("" if unknown).
  const std::string& peer() const { return peer_; }
  bool done() const { return state_ == State::kDone; }
  // Meaningful once done().
  const Status& status() const { return status_; }
  // For a completed receive (and for a send: what was sent).
  const std::vector<int64_t>& shape() const { return shape_; }
  const std::vector<float>& data() const { return data_; }
  std::vector<float> TakeData() { return std::move(data_); }
  // Timing (Unix seconds; comparable across processes on one host). For a
  // completed receive: when the sender handed the message to UCX (from the
  // wire header), the last time this side progressed and found it not yet
  // complete (0 if it was complete at the first look), and when this side
  // first found it complete. The message completed in between the last two.
  double sent_unix() const { return header_.sent_unix; }
  double last_incomplete_unix() const { return last_incomplete_unix_; }
  double completed_unix() const { return completed_unix_; }

  // Wire header (public for the static_assert in the .cc; not an API).
  struct WireHeader {
    uint32_t magic;
    uint32_t ndim;
    int64_t dims[4];
    uint64_t num_floats;
    double sent_unix;  // the sender's wall clock when it posted the message
  };

 private:
  friend class UcxChannel;
  friend struct UcxCallbacks;
  enum class State { kProbing, kActive, kDone };
  struct Iov {  // mirrors ucp_dt_iov_t
    void* buffer;
    size_t length;
  };
  void Finish(Status s);
  std::string Describe() const;

  uint64_t tag_ = 0;
  bool is_send_ = false;
  std::string peer_;
  State state_ = State::kProbing;
  Status status_;
  void* ucp_request_ = nullptr;  // in flight inside UCX
  bool ucp_completed_ = false;   // set by the completion callback
  int ucp_status_ = 0;           // ucs_status_t from the callback
  WireHeader header_{};
  double last_incomplete_unix_ = 0, completed_unix_ = 0;
  Iov iov_[2]{};
  std::vector<int64_t> shape_;
  std::vector<float> data_;
};

}  // namespace braid::comm
