// What a module runner needs from the outside world, as interfaces: the
// boundary transport (point-to-point tensors to ranks of other modules) and
// the DP group (all-reduce inside its own module). Production: UCX and Gloo;
// tests: the in-process fabric (inproc_fabric.h). One thread per runner calls
// these; implementations must allow different runners' threads concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/worker/rank_data.h"

namespace braid::worker {

// What a boundary message is: direction, step, microbatch, unit id.
enum class BoundaryKind : uint32_t {
  kEncToLlm = 1,  // image embeddings
  kLlmToEnc = 2,  // their gradients
  kLlmToGen = 3,  // conditioning hidden states
  kGenToLlm = 4,  // their gradients
  kLlmStageFwd = 5,  // LLM pipeline stage k -> k+1: a microbatch's hidden states (unit 0)
  kLlmStageBwd = 6,  // LLM pipeline stage k+1 -> k: their gradient (unit 0)
};
struct BoundaryKey {
  BoundaryKind kind;
  int64_t step;
  int32_t microbatch;
  uint32_t uid;
  std::string ToString() const;  // "enc->llm step 3 mb 1 unit 7"
  bool operator==(const BoundaryKey&) const = default;
};

// A received tensor: its shape travels with the data (variable lengths).
struct Message {
  std::vector<int64_t> shape;
  std::vector<float> data;
  // Timing, wall clock (Unix seconds): when the sender handed it over, and
  // the window in which it arrived here (after `arrived_after`, by
  // `arrived_by`; both 0 when the transport cannot tell).
  double sent_unix = 0;
  double arrived_after_unix = 0, arrived_by_unix = 0;
};

class BoundaryTransport {
 public:
  virtual ~BoundaryTransport() = default;
  // Asynchronous: returns once the data is handed over (copied or owned).
  virtual Status Send(Role dst_role, int dst_rank, const BoundaryKey& key, std::vector<int64_t> shape,
                      std::vector<float> data) = 0;
  // Blocks until the message from (src_role, src_rank) with this key arrives,
  // or the transport's timeout passes (DeadlineExceeded naming the key and peer).
  virtual StatusOr<Message> Recv(Role src_role, int src_rank, const BoundaryKey& key) = 0;
  // Waits until every Send so far has completed.
  virtual Status FlushSends() = 0;
  // Optional: posts the receive of a message Recv will ask for later, so it
  // can arrive while this rank computes; Poll() moves posted transfers on
  // (the worker calls it between ops). Transports that deliver on their own
  // ignore both.
  virtual void Expect(Role /*src_role*/, int /*src_rank*/, const BoundaryKey& /*key*/) {}
  virtual void Poll() {}
};

class DpGroup {
 public:
  virtual ~DpGroup() = default;
  virtual int size() const = 0;
  virtual int rank() const = 0;
  // Sum over the group, in place; every rank ends with identical values.
  virtual Status AllReduceSum(float* data, int64_t n) = 0;
  virtual Status AllReduceSum(double* data, int64_t n) = 0;
  // Asynchronous: starts summing data[0, n) over the group and returns; the
  // data must stay untouched until WaitAllReduces. Started sums complete in
  // order; every rank must start the same sequence. The default runs it now.
  virtual Status StartAllReduceSum(float* data, int64_t n) { return AllReduceSum(data, n); }
  // Waits for every started sum; the first failure, if any.
  virtual Status WaitAllReduces() { return Status::Ok(); }
};

}  // namespace braid::worker
