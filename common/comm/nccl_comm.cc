#include "common/comm/nccl_comm.h"

#include <cstring>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/base/log.h"
#include "common/comm/nccl_check.h"
#include "common/ops/cuda/check.h"

namespace braid::comm {

static_assert(sizeof(ncclUniqueId) == kNcclUniqueIdBytes, "nccl_id.h's kNcclUniqueIdBytes != NCCL_UNIQUE_ID_BYTES");
static_assert(kNcclNoColor == NCCL_SPLIT_NOCOLOR, "nccl_id.h's kNcclNoColor != NCCL_SPLIT_NOCOLOR");

namespace {

using Clock = std::chrono::steady_clock;

std::string Ms(std::chrono::milliseconds t) { return std::to_string(t.count()) + " ms"; }

Status DeadlineExceeded(std::string m) { return Status(StatusCode::kDeadlineExceeded, std::move(m)); }

template <typename T>
ncclDataType_t NcclType();
template <>
ncclDataType_t NcclType<float>() {
  return ncclFloat32;
}
template <>
ncclDataType_t NcclType<__nv_bfloat16>() {
  return ncclBfloat16;
}

// A short spin, then 100 us naps: settling usually takes microseconds, a
// bootstrap up to seconds.
void Backoff(int* spins) {
  if (++*spins < 1000) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace

// An enqueue on this communicator: settled, and a failure breaks it.
#define BRAID_NCCL_ENQUEUE(call) RETURN_IF_ERROR(Enqueued((call), #call, __FILE__, __LINE__))

NcclComm::NcclComm(cuda::Context& ctx, int rank, int size, std::string name, std::chrono::milliseconds timeout)
    : ctx_(&ctx), device_(ctx.device()), rank_(rank), size_(size), name_(std::move(name)), timeout_(timeout) {}

Status NcclComm::CreateStreams() {
  BRAID_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
  // The highest priority the device offers: a collective's kernels are
  // scheduled ahead of queued compute kernels, so communication overlaps.
  int least = 0, greatest = 0;
  BRAID_CUDA_RETURN_IF_ERROR(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  BRAID_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithPriority(&stream_, cudaStreamNonBlocking, greatest));
  BRAID_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&compute_ready_, cudaEventDisableTiming));
  BRAID_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&comm_done_, cudaEventDisableTiming));
  return Status::Ok();
}

StatusOr<std::unique_ptr<NcclComm>> NcclComm::CreateWorld(KvStore& kv, const std::string& prefix, int rank,
                                                          int world_size, cuda::Context& ctx,
                                                          std::chrono::milliseconds timeout) {
  const std::string who = "nccl world: rank " + std::to_string(rank) + " of " + std::to_string(world_size);
  if (world_size < 1 || rank < 0 || rank >= world_size) return Status::InvalidArgument(who + ": no such rank");
  if (timeout.count() <= 0) return Status::InvalidArgument(who + ": timeout must be positive, got " + Ms(timeout));
  const Clock::time_point deadline = Clock::now() + timeout;
  BRAID_CUDA_RETURN_IF_ERROR(cudaSetDevice(ctx.device()));

  // The id: rank 0 makes and publishes it, the others wait for it.
  const std::string key = NcclWorldKey(prefix);
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  if (rank == 0) {
    BRAID_NCCL_RETURN_IF_ERROR(ncclGetUniqueId(&id));
    NcclUniqueIdBytes bytes;
    std::memcpy(bytes.data(), id.internal, bytes.size());
    const std::string hex = EncodeNcclUniqueId(bytes);
    RETURN_IF_ERROR(kv.Set(key, std::vector<uint8_t>(hex.begin(), hex.end())));
  } else {
    auto value = kv.Get(key, std::chrono::duration<double>(timeout).count());
    if (!value.ok()) {
      return Status(value.status().code(), who + ": no id from rank 0 under key '" + key + "' within " + Ms(timeout) +
                                               " (rank 0 never published: did it die?): " +
                                               value.status().message());
    }
    const std::string text(value->begin(), value->end());
    ASSIGN_OR_RETURN(const NcclUniqueIdBytes bytes, DecodeNcclUniqueId(text, "nccl id under key '" + key + "'"));
    std::memcpy(id.internal, bytes.data(), bytes.size());
  }

  // Join, non-blocking, polled until up or the deadline.
  std::unique_ptr<NcclComm> c(new NcclComm(ctx, rank, world_size, "world", timeout));
  RETURN_IF_ERROR(c->CreateStreams());
  std::lock_guard<std::recursive_mutex> lock(c->mu_);
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  config.commName = c->name_.c_str();
  const ncclResult_t r = ncclCommInitRankConfig(&c->comm_, world_size, id, rank, &config);
  if (r != ncclSuccess && r != ncclInProgress) {
    return c->Fail(NcclError(r, "ncclCommInitRankConfig(world)", __FILE__, __LINE__));
  }
  Status up = c->Settle(c->comm_, deadline, "ncclCommInitRankConfig(world)");
  if (up.code() == StatusCode::kDeadlineExceeded) {
    up = DeadlineExceeded(who + ": the communicator did not come up within " + Ms(timeout) + " (id under key '" +
                          key + "'): a rank never joined?");
  }
  if (!up.ok()) return c->Fail(std::move(up));
  return c;
}

NcclComm::~NcclComm() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  // Teardown: errors cannot be returned, so they are logged.
  const auto warn_if = [this](cudaError_t e, const char* call) {
    if (e != cudaSuccess) {
      LOG_WARN("nccl %s: %s", name_.c_str(), cuda::CudaError(e, call, __FILE__, __LINE__).ToString().c_str());
    }
  };
  warn_if(cudaSetDevice(device_), "cudaSetDevice");
  if (comm_ != nullptr && !aborted_) {
    // Let the enqueued work finish (bounded: a dead peer would hang it), then
    // finalize (flushes, non-blocking) and destroy; abort on any trouble.
    const Clock::time_point deadline = Clock::now() + timeout_;
    Status s = broken_;
    int spins = 0;
    while (s.ok()) {
      const cudaError_t q = cudaStreamQuery(stream_);
      if (q == cudaSuccess) break;
      if (q != cudaErrorNotReady) s = cuda::CudaError(q, "cudaStreamQuery(comm stream)", __FILE__, __LINE__);
      ncclResult_t state = ncclSuccess;
      const ncclResult_t r = ncclCommGetAsyncError(comm_, &state);
      if (r != ncclSuccess) {
        s = NcclError(r, "ncclCommGetAsyncError", __FILE__, __LINE__);
      } else if (state != ncclSuccess && state != ncclInProgress) {
        s = NcclError(state, "asynchronous error", __FILE__, __LINE__);
      }
      if (s.ok() && Clock::now() >= deadline) s = DeadlineExceeded("comm stream not drained within " + Ms(timeout_));
      Backoff(&spins);
    }
    if (s.ok()) {
      const ncclResult_t r = ncclCommFinalize(comm_);
      s = (r == ncclSuccess || r == ncclInProgress) ? Settle(comm_, deadline, "ncclCommFinalize")
                                                    : NcclError(r, "ncclCommFinalize", __FILE__, __LINE__);
    }
    if (s.ok()) {
      const ncclResult_t r = ncclCommDestroy(comm_);
      if (r != ncclSuccess) {
        LOG_WARN("nccl %s: %s", name_.c_str(), NcclError(r, "ncclCommDestroy", __FILE__, __LINE__).ToString().c_str());
      }
      comm_ = nullptr;
    } else {
      if (broken_.ok()) LOG_WARN("nccl %s: aborting at teardown: %s", name_.c_str(), s.ToString().c_str());
      Status a = AbortLocked();
      if (!a.ok()) LOG_WARN("nccl %s: %s", name_.c_str(), a.ToString().c_str());
    }
  }
  if (comm_done_ != nullptr) warn_if(cudaEventDestroy(comm_done_), "cudaEventDestroy(comm_done)");
  if (compute_ready_ != nullptr) warn_if(cudaEventDestroy(compute_ready_), "cudaEventDestroy(compute_ready)");
  if (stream_ != nullptr) warn_if(cudaStreamDestroy(stream_), "cudaStreamDestroy(comm stream)");
}

StatusOr<std::unique_ptr<NcclComm>> NcclComm::Split(int color, int key, const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  RETURN_IF_ERROR(Usable());
  if (color < 0 && color != kNcclNoColor) {
    return Status::InvalidArgument("nccl " + name_ + ": split colour must be >= 0 or kNcclNoColor, got " +
                                   std::to_string(color));
  }
  if (group_depth_ > 0) return Status::FailedPrecondition("nccl " + name_ + ": Split inside Grouped");
  BRAID_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
  const Clock::time_point deadline = Clock::now() + timeout_;
  const std::string child_name = name.empty() ? name_ + "/split-" + std::to_string(color) : name;
  const std::string what = "ncclCommSplit(" + child_name + ")";

  std::unique_ptr<NcclComm> child;
  if (color != kNcclNoColor) {
    child.reset(new NcclComm(*ctx_, 0, 0, child_name, timeout_));
    RETURN_IF_ERROR(child->CreateStreams());
  }
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  if (child) config.commName = child->name_.c_str();
  ncclComm_t newcomm = nullptr;
  const ncclResult_t r = ncclCommSplit(comm_, color, key, &newcomm, &config);
  if (child) {
    std::lock_guard<std::recursive_mutex> child_lock(child->mu_);
    child->comm_ = newcomm;
  } else if (newcomm != nullptr) {
    // Not expected with no colour; never leaked.
    const ncclResult_t a = ncclCommAbort(newcomm);
    if (a != ncclSuccess) {
      LOG_WARN("nccl %s: %s", name_.c_str(), NcclError(a, "ncclCommAbort", __FILE__, __LINE__).ToString().c_str());
    }
  }
  if (r != ncclSuccess && r != ncclInProgress) {
    Status s = NcclError(r, what.c_str(), __FILE__, __LINE__);
    if (child) (void)child->Fail(s);
    return Fail(std::move(s));
  }
  // The child first (it is what the split makes), then the parent.
  Status s = Status::Ok();
  if (child && newcomm != nullptr) {
    std::lock_guard<std::recursive_mutex> child_lock(child->mu_);
    s = child->Settle(newcomm, deadline, what);
  }
  if (s.ok()) s = Settle(comm_, deadline, what);
  if (s.code() == StatusCode::kDeadlineExceeded) {
    s = DeadlineExceeded("nccl " + name_ + ": rank " + std::to_string(rank_) + ": " + what +
                         " did not complete within " + Ms(timeout_) + ": a rank did not take part in the split?");
  }
  if (!s.ok()) {
    if (child) (void)child->Fail(s);
    return Fail(std::move(s));
  }
  if (child) {
    if (newcomm == nullptr) return Fail(Status::Internal("nccl " + name_ + ": " + what + " made no communicator"));
    std::lock_guard<std::recursive_mutex> child_lock(child->mu_);
    BRAID_NCCL_RETURN_IF_ERROR(ncclCommUserRank(newcomm, &child->rank_));
    BRAID_NCCL_RETURN_IF_ERROR(ncclCommCount(newcomm, &child->size_));
  }
  return child;
}

Status NcclComm::WaitFor(cudaEvent_t ready) {
  BRAID_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream_, ready, 0));
  return Status::Ok();
}

Status NcclComm::WaitForCompute() {
  BRAID_CUDA_RETURN_IF_ERROR(cudaEventRecord(compute_ready_, ctx_->stream()));
  BRAID_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(stream_, compute_ready_, 0));
  return Status::Ok();
}

Status NcclComm::Record(cudaEvent_t done) {
  BRAID_CUDA_RETURN_IF_ERROR(cudaEventRecord(done, stream_));
  return Status::Ok();
}

Status NcclComm::ComputeWaitsForComm() {
  BRAID_CUDA_RETURN_IF_ERROR(cudaEventRecord(comm_done_, stream_));
  BRAID_CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(ctx_->stream(), comm_done_, 0));
  return Status::Ok();
}

template <typename T>
Status NcclComm::AllReduceSum(const T* send, T* recv, size_t count) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  RETURN_IF_ERROR(Usable());
  BRAID_NCCL_ENQUEUE(ncclAllReduce(send, recv, count, NcclType<T>(), ncclSum, comm_, stream_));
  return Status::Ok();
}

template <typename T>
Status NcclComm::ReduceScatterSum(const T* send, T* recv, size_t recv_count) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  RETURN_IF_ERROR(Usable());
  BRAID_NCCL_ENQUEUE(ncclReduceScatter(send, recv, recv_count, NcclType<T>(), ncclSum, comm_, stream_));
  return Status::Ok();
}

template <typename T>
Status NcclComm::AllGather(const T* send, T* recv, size_t send_count) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  RETURN_IF_ERROR(Usable());
  BRAID_NCCL_ENQUEUE(ncclAllGather(send, recv, send_count, NcclType<T>(), comm_, stream_));
  return Status::Ok();
}

template <typename T>
Status NcclComm::Send(const T* data, size_t count, int peer) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  RETURN_IF_ERROR(Usable());
  if (peer < 0 || peer >= size_) {
    return Status::InvalidArgument("nccl " + name_ + ": Send to rank " + std::to_string(peer) + " of " +
                                   std::to_string(size_));
  }
  BRAID_NCCL_ENQUEUE(ncclSend(data, count, NcclType<T>(), peer, comm_, stream_));
  return Status::Ok();
}

template <typename T>
Status NcclComm::Recv(T* data, size_t count, int peer) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  RETURN_IF_ERROR(Usable());
  if (peer < 0 || peer >= size_) {
    return Status::InvalidArgument("nccl " + name_ + ": Recv from rank " + std::to_string(peer) + " of " +
                                   std::to_string(size_));
  }
  BRAID_NCCL_ENQUEUE(ncclRecv(data, count, NcclType<T>(), peer, comm_, stream_));
  return Status::Ok();
}

Status NcclComm::Grouped(const std::function<Status()>& ops) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  RETURN_IF_ERROR(Usable());
  {
    const ncclResult_t r = ncclGroupStart();
    if (r != ncclSuccess) return Fail(NcclError(r, "ncclGroupStart()", __FILE__, __LINE__));
  }
  ++group_depth_;
  Status body = ops();
  --group_depth_;
  // A group with some of its operations missing would pair wrongly with the
  // peers' groups: a failed body breaks the communicator (aborted once the
  // group is closed: it must not be freed while the group still names it).
  if (!body.ok() && broken_.ok()) broken_ = body;
  const ncclResult_t r = ncclGroupEnd();
  Status end = Status::Ok();
  if (r == ncclInProgress && group_depth_ == 0) {
    end = Settle(comm_, Clock::now() + timeout_, "ncclGroupEnd()");
  } else if (r != ncclSuccess && r != ncclInProgress) {
    end = NcclError(r, "ncclGroupEnd()", __FILE__, __LINE__);
  }
  if (!end.ok() && broken_.ok()) broken_ = end;
  if (!broken_.ok() && group_depth_ == 0) {
    Status a = AbortLocked();
    if (!a.ok()) LOG_WARN("nccl %s: %s", name_.c_str(), a.ToString().c_str());
  }
  if (!body.ok()) return body;
  return end;
}

template <typename T>
Status NcclComm::SendRecv(const T* send, size_t send_count, int dst, T* recv, size_t recv_count, int src) {
  return Grouped([&]() -> Status {
    RETURN_IF_ERROR(Send(send, send_count, dst));
    return Recv(recv, recv_count, src);
  });
}

Status NcclComm::CheckAsync() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  RETURN_IF_ERROR(Usable());
  ncclResult_t state = ncclSuccess;
  const ncclResult_t r = ncclCommGetAsyncError(comm_, &state);
  if (r != ncclSuccess) return Fail(NcclError(r, "ncclCommGetAsyncError", __FILE__, __LINE__));
  if (state != ncclSuccess && state != ncclInProgress) {
    return Fail(NcclError(state, ("nccl " + name_ + ": asynchronous error").c_str(), __FILE__, __LINE__));
  }
  // A kernel fault on the comm stream is sticky: it shows here too.
  const cudaError_t q = cudaStreamQuery(stream_);
  if (q != cudaSuccess && q != cudaErrorNotReady) {
    return Fail(cuda::CudaError(q, "cudaStreamQuery(comm stream)", __FILE__, __LINE__));
  }
  return Status::Ok();
}

Status NcclComm::Abort() {
  abort_requested_.store(true);  // makes a poll holding mu_ give it up
  std::lock_guard<std::recursive_mutex> lock(mu_);
  if (group_depth_ > 0) {
    // Only the rank's own thread can be inside Grouped while holding mu_:
    // Abort was called from the group's body. Grouped aborts on the way out.
    if (broken_.ok()) broken_ = Status::FailedPrecondition("nccl " + name_ + ": aborted");
    return Status::Ok();
  }
  return AbortLocked();
}

Status NcclComm::Settle(ncclComm_t comm, Clock::time_point deadline, const std::string& what) {
  int spins = 0;
  for (;;) {
    ncclResult_t state = ncclSuccess;
    const ncclResult_t r = ncclCommGetAsyncError(comm, &state);
    if (r != ncclSuccess) return NcclError(r, ("ncclCommGetAsyncError after " + what).c_str(), __FILE__, __LINE__);
    if (state == ncclSuccess) return Status::Ok();
    if (state != ncclInProgress) return NcclError(state, what.c_str(), __FILE__, __LINE__);
    if (abort_requested_.load()) return Status::FailedPrecondition("nccl " + name_ + ": aborted during " + what);
    if (Clock::now() >= deadline) {
      return DeadlineExceeded("nccl " + name_ + ": " + what + " did not complete within " + Ms(timeout_));
    }
    Backoff(&spins);
  }
}

Status NcclComm::Enqueued(ncclResult_t r, const char* call, const char* file, int line) {
  if (r == ncclSuccess) return Status::Ok();
  if (r == ncclInProgress) {
    if (group_depth_ > 0) return Status::Ok();  // ncclGroupEnd settles the group
    Status s = Settle(comm_, Clock::now() + timeout_, call);
    return s.ok() ? s : Fail(std::move(s));
  }
  return Fail(NcclError(r, call, file, line));
}

Status NcclComm::Usable() const {
  if (!broken_.ok()) {
    return Status::FailedPrecondition("nccl " + name_ + ": unusable after an earlier error: " + broken_.ToString());
  }
  if (aborted_ || abort_requested_.load()) return Status::FailedPrecondition("nccl " + name_ + ": aborted");
  return Status::Ok();
}

Status NcclComm::Fail(Status s) {
  if (broken_.ok()) broken_ = s;
  if (group_depth_ == 0) {
    Status a = AbortLocked();
    if (!a.ok()) LOG_WARN("nccl %s: %s", name_.c_str(), a.ToString().c_str());
  }
  return s;
}

Status NcclComm::AbortLocked() {
  if (aborted_) return Status::Ok();
  aborted_ = true;
  if (comm_ == nullptr) return Status::Ok();
  const ncclResult_t r = ncclCommAbort(comm_);
  comm_ = nullptr;  // freed either way
  if (r != ncclSuccess) return NcclError(r, ("ncclCommAbort(" + name_ + ")").c_str(), __FILE__, __LINE__);
  return Status::Ok();
}

#undef BRAID_NCCL_ENQUEUE

#define BRAID_NCCL_INSTANTIATE(T)                                                                    \
  template Status NcclComm::AllReduceSum<T>(const T*, T*, size_t);                                   \
  template Status NcclComm::ReduceScatterSum<T>(const T*, T*, size_t);                               \
  template Status NcclComm::AllGather<T>(const T*, T*, size_t);                                      \
  template Status NcclComm::Send<T>(const T*, size_t, int);                                          \
  template Status NcclComm::Recv<T>(T*, size_t, int);                                                \
  template Status NcclComm::SendRecv<T>(const T*, size_t, int, T*, size_t, int);
BRAID_NCCL_INSTANTIATE(float)
BRAID_NCCL_INSTANTIATE(__nv_bfloat16)
#undef BRAID_NCCL_INSTANTIATE

}  // namespace braid::comm
