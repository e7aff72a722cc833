// An NCCL communicator of one rank, bootstrapped through the orchestrator's
// rendezvous KvStore, with its own communication stream (docs/NCCL.md,
// docs/GPU.md step 6).
//
// Bootstrap: the job-wide world's rank 0 makes an ncclUniqueId and publishes
// it under "<prefix>nccl/world" (hex text, common/comm/nccl_id.h); the other
// ranks wait for it; every rank then joins with a non-blocking
// ncclCommInitRankConfig, polled until it is up or the timeout passes. The
// DP, TP and model-parallel groups are ncclCommSplit's of the world
// (NcclSplitsOf gives each rank's colour and key).
//
// Streams: every operation is enqueued on the communicator's own
// communication stream, never on the compute stream, and nothing here waits
// for the device. Ordering against the compute stream is explicit:
//
//   compute: backward of bucket k ... record(ready_k) ...... wait(done) optimizer
//   comm:                      wait(ready_k) AllReduce(k) record(done)
//
// WaitFor(ready) / WaitForCompute() make the comm stream wait for the compute
// stream's work so far; Record(done) / ComputeWaitsForComm() let the compute
// stream wait for the collectives enqueued so far.
//
// Errors: every NCCL and CUDA call is checked. NCCL's asynchronous errors (a
// peer died, the network failed) surface through CheckAsync(), which the
// runner calls at op boundaries. After any failure the communicator aborts
// itself (so peers fail rather than hang) and every later call returns
// FailedPrecondition naming the first error; build a new world under a new
// rendezvous prefix to recover. Abort() (cancel) may be called from any
// thread; everything else from the rank's thread only, one call at a time.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/base/status.h"
#include "common/comm/kv_store.h"
#include "common/comm/nccl_id.h"
#include "common/ops/cuda/context.h"

namespace braid::comm {

class NcclComm {
 public:
  // Joins the world of `world_size` ranks as `rank`, on `ctx`'s device (one
  // rank per device: NCCL cannot place two ranks of a communicator on one).
  // Rank 0 publishes the id under NcclWorldKey(prefix) of `kv`; the others
  // read it. `timeout` bounds the whole call (waiting for the id, then for
  // the communicator); it is also the bound of later splits, settles and
  // teardown. Errors: InvalidArgument for a bad rank/size or a malformed id;
  // DeadlineExceeded naming the key when rank 0 never published, or when the
  // world did not come up in time (a rank never joined), after aborting.
  // `ctx` must outlive the communicator (its compute stream is the one the
  // ordering helpers pair with).
  static StatusOr<std::unique_ptr<NcclComm>> CreateWorld(KvStore& kv, const std::string& prefix, int rank,
                                                         int world_size, cuda::Context& ctx,
                                                         std::chrono::milliseconds timeout);
  // Tears down: waits for the comm stream, then ncclCommFinalize and
  // ncclCommDestroy (ncclCommAbort if it is broken, aborted, or finalizing
  // does not finish within the timeout).
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  // ncclCommSplit: collective over this communicator (every rank calls it,
  // in the same order). Ranks of equal `color` (>= 0) form a group, ordered
  // by `key` (ties by rank here). kNcclNoColor: this rank joins no group and
  // gets a null pointer. The child has its own comm stream, the same compute
  // context and timeout; `name` labels its errors (and NCCL's commName).
  StatusOr<std::unique_ptr<NcclComm>> Split(int color, int key, const std::string& name = "");
  StatusOr<std::unique_ptr<NcclComm>> Split(const NcclSplit& s) { return Split(s.color, s.key, s.name); }

  int rank() const { return rank_; }
  int size() const { return size_; }
  const std::string& name() const { return name_; }
  int device() const { return device_; }
  // The communication stream every operation is enqueued on.
  cudaStream_t stream() const { return stream_; }

  // ---- Ordering (cudaStreamWaitEvent; nothing waits on the host). ----
  // The comm stream waits for `ready` (recorded on the compute stream when
  // the data to send was produced, e.g. a gradient bucket's last kernel).
  Status WaitFor(cudaEvent_t ready);
  // Records an event on the compute stream now and makes the comm stream wait for it.
  Status WaitForCompute();
  // Records `done` on the comm stream after every operation enqueued so far;
  // the compute stream (or anyone) waits on it before using the results.
  Status Record(cudaEvent_t done);
  // Makes the compute stream wait for every operation enqueued so far.
  Status ComputeWaitsForComm();

  // ---- Operations (T = float or __nv_bfloat16; device pointers). ----
  // recv = sum over ranks of send, `count` elements; in place when send == recv.
  template <typename T>
  Status AllReduceSum(const T* send, T* recv, size_t count);
  // send holds size() * recv_count elements; rank r gets the sum of block r.
  template <typename T>
  Status ReduceScatterSum(const T* send, T* recv, size_t recv_count);
  // recv gets every rank's `send_count` elements, in rank order.
  template <typename T>
  Status AllGather(const T* send, T* recv, size_t send_count);
  // Point to point; pair them inside Grouped (or use SendRecv), otherwise
  // two ranks sending to each other deadlock.
  template <typename T>
  Status Send(const T* data, size_t count, int peer);
  template <typename T>
  Status Recv(T* data, size_t count, int peer);
  // Runs `ops` (Send/Recv/collective calls on this communicator) between
  // ncclGroupStart and ncclGroupEnd, so they progress together; the group
  // is always closed, and the first error returned.
  Status Grouped(const std::function<Status()>& ops);
  // Send to `dst` and receive from `src` as one group.
  template <typename T>
  Status SendRecv(const T* send, size_t send_count, int dst, T* recv, size_t recv_count, int src);

  // ---- Errors. ----
  // ncclCommGetAsyncError (and the comm stream's sticky CUDA error): OK while
  // healthy (also while an operation is still being posted); a failure
  // breaks the communicator (above). Call at op boundaries.
  Status CheckAsync();
  // ncclCommAbort (cancel): any thread, idempotent. Later calls fail with
  // FailedPrecondition; the device work already enqueued is abandoned.
  Status Abort();

 private:
  NcclComm(cuda::Context& ctx, int rank, int size, std::string name, std::chrono::milliseconds timeout);
  // Stream and events, on ctx's device.
  Status CreateStreams();
  // Polls ncclCommGetAsyncError(comm) until it leaves ncclInProgress;
  // DeadlineExceeded after `deadline`, FailedPrecondition if aborted meanwhile.
  Status Settle(ncclComm_t comm, std::chrono::steady_clock::time_point deadline, const std::string& what);
  // After an enqueue returned `r`: settles unless inside a group; a failure breaks the communicator.
  Status Enqueued(ncclResult_t r, const char* call, const char* file, int line);
  // FailedPrecondition once broken or aborted.
  Status Usable() const;
  // Records the first failure, aborts, returns `s`.
  Status Fail(Status s);
  Status AbortLocked();

  cuda::Context* ctx_;
  int device_;
  int rank_, size_;
  std::string name_;
  std::chrono::milliseconds timeout_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t compute_ready_ = nullptr;  // WaitForCompute
  cudaEvent_t comm_done_ = nullptr;      // ComputeWaitsForComm
  int group_depth_ = 0;
  // mu_ is held around every NCCL call, so Abort() from another thread never
  // frees the communicator under a call; polls check abort_requested_ and
  // give the lock up.
  mutable std::recursive_mutex mu_;
  std::atomic<bool> abort_requested_{false};
  bool aborted_ = false;
  Status broken_;
};

}  // namespace braid::comm
