// A data-parallel group over Gloo's TCP transport: gradient all-reduce,
// broadcast and barrier among the ranks of one module's DP group (e.g. the 3
// encoder ranks), bootstrapped through a KvStore.
//
// All-reduce algorithm: rank-ordered reduce-scatter + all-gather (not Gloo's
// ring). The array is cut into contiguous chunks, one per rank; every rank
// sends chunk p to rank p, rank p sums the contributions of chunk p strictly
// in rank order, ((x0 + x1) + x2) + ..., and sends the sum back to everyone.
// Hence:
//  - every element is the same expression of the inputs whatever the timing
//    (messages only move data; the order of additions is fixed by rank), so
//    the same inputs always give the same bits;
//  - every rank ends with bit-identical results (each sum is computed once and
//    copied);
//  - the result equals the serial loop `for r in 0..size-1: acc += x_r`
//    (acc starting at x_0), independent of how the array is chunked.
// A ring all-reduce is also timing-independent but its addition order depends
// on the chunk's position on the ring, so results would not match the serial
// rank-order sum. The traffic is the same as a ring's, 2 (size-1)/size of the
// array per rank, sent all-to-all. Chunks are pipelined in 1 MiB blocks (block
// j is summed and sent back while later blocks still arrive); measured on par
// with Gloo's ring on loopback. Arrays longer than size x 16 MiB go in
// segments, so scratch memory stays below (size-1) x 16 MiB.
//
// Threading: one thread at a time per group (calls are collective: every rank
// must make the same calls in the same order). Different groups are
// independent.
//
// Failures: a peer that never joins, dies, or stalls past the timeout makes
// the call return a Status (DeadlineExceeded for timeouts, Unavailable for
// broken connections); Gloo exceptions never escape. After a failed
// collective the group is broken: it closes its connections (so peers fail
// fast instead of waiting out their timeout) and every later call returns
// FailedPrecondition. Build a new group (with a fresh store prefix) to recover.
// Create ignores SIGPIPE process-wide (unless a handler is installed), so a
// dead peer's socket fails the call instead of killing the process.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/base/status.h"
#include "common/comm/kv_store.h"

namespace braid::comm {

struct GlooGroupOptions {
  // Address this rank listens on (loopback for a single machine).
  std::string hostname = "127.0.0.1";
  // Bound on rendezvous and on each collective, end to end.
  double timeout_seconds = 60;
};

class GlooGroup {
 public:
  // Rank `rank` of `size`, rendezvous through `store` (keys "0".."size-1"
  // under the store's prefix; use a prefix unique to this group instance,
  // stale keys from an earlier group would point at dead addresses).
  // `store` is used only during Create. size == 1 needs no store and no
  // network: every collective is then a no-op.
  static StatusOr<std::unique_ptr<GlooGroup>> Create(KvStore* store, int rank, int size,
                                                     const GlooGroupOptions& opt);
  ~GlooGroup();
  GlooGroup(const GlooGroup&) = delete;
  GlooGroup& operator=(const GlooGroup&) = delete;

  int rank() const;
  int size() const;

  // Sum-all-reduce in place, deterministic (see the file comment).
  Status AllReduceSum(float* data, int64_t n);
  // For scalars like loss sums / grad norms.
  Status AllReduceSum(double* data, int64_t n);
  // Copies root's `data` to every rank.
  Status Broadcast(float* data, int64_t n, int root);
  // Returns once every rank has entered the barrier.
  Status Barrier();

 private:
  struct Impl;
  explicit GlooGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace braid::comm
