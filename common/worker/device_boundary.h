// Boundary tensors between device ranks of different modules, device to
// device (docs/NCCL.md, "Boundaries on the device"): the image embeddings,
// the conditioning hidden states and their gradients move between the
// ranks' device memories without a host copy and without the host waiting
// for the device.
//
// Matching is by order, as NCCL's point-to-point is: between two ranks, in
// one direction, the i-th Recv gets the i-th Send. The runner issues them in
// one global order on every rank: by microbatch, then by hop (enc->llm
// before llm->gen going forward; gen->llm before llm->enc going backward),
// then by unit id. Forward and backward traffic run on separate channels
// (with NCCL: communicators, each with its own stream), so a send that waits
// for its receiver never holds up traffic the other way; with one global
// order per channel the oldest pending transfer always has both ends ready,
// so the transfers cannot deadlock.
//
// The key travels with neither (NCCL carries bytes only); implementations
// use it in errors, and the test fake checks it to catch a mismatched order.
#pragma once

#include <cstdint>

#include "common/base/status.h"
#include "common/worker/rank_data.h"
#include "common/worker/transport.h"

namespace braid::worker {

enum class BoundaryDirection { kForward = 0, kBackward = 1 };

// The direction a boundary kind travels in.
inline BoundaryDirection DirectionOf(BoundaryKind k) {
  return k == BoundaryKind::kEncToLlm || k == BoundaryKind::kLlmToGen || k == BoundaryKind::kLlmStageFwd
             ? BoundaryDirection::kForward
             : BoundaryDirection::kBackward;
}

class DeviceBoundary {
 public:
  virtual ~DeviceBoundary() = default;
  // "nccl-device", "guarded-fake" (logs, tests).
  virtual const char* name() const = 0;
  // Sends n floats at `data` (the rank's device memory) to (dst_role,
  // dst_rank) once the compute stream's work so far has produced them.
  // `data` must stay untouched until Flush.
  virtual Status Send(Role dst_role, int dst_rank, const BoundaryKey& key, const float* data, int64_t n) = 0;
  // Receives n floats from (src_role, src_rank) into `data` (device memory,
  // free of compute-stream readers enqueued so far); work the compute stream
  // gets after this call sees them.
  virtual Status Recv(Role src_role, int src_rank, const BoundaryKey& key, float* data, int64_t n) = 0;
  // At the step's end: the compute stream waits for every transfer issued,
  // so the step's buffers may be reused after its one sync.
  virtual Status Flush() = 0;
  // Asynchronous errors (OK if none). Called at op boundaries.
  virtual Status CheckAsync() { return Status::Ok(); }
  // Cancel or a failing rank: peers fail instead of waiting. Any thread.
  virtual void Abort() {}
};

// The position of (role, rank) in the job's world of device ranks: the
// encoder's ranks first, then the LLM's, then the generator's.
inline int JobWorldRank(const int worlds[kNumRoles], Role role, int rank) {
  int at = 0;
  for (int r = 0; r < int(role); ++r) at += worlds[r];
  return at + rank;
}

}  // namespace braid::worker
