// The runtime interfaces over the real transports of a worker process:
// the orchestrator's Rendezvous service as a comm::KvStore, UCX as the
// BoundaryTransport, Gloo as the DpGroup. Each is used by one thread (the
// worker's job thread), except that Cancel() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/comm/gloo_group.h"
#include "common/comm/kv_store.h"
#include "common/comm/ucx_channel.h"
#include "common/rpc/security.h"
#include "common/worker/transport.h"

namespace braid::v1 {
class Rendezvous;
}

namespace braid::worker {

// Keys live on the orchestrator (docs/PROTOCOL.md, Rendezvous). `security`:
// the token and TLS settings of the channel (default: the process's, set by
// its flags).
class GrpcKvStore : public comm::KvStore {
 public:
  explicit GrpcKvStore(const std::string& orchestrator_address,
                       const rpc::RpcSecurity& security = rpc::ProcessSecurity());
  ~GrpcKvStore() override;
  Status Set(const std::string& key, const std::vector<uint8_t>& value) override;
  StatusOr<std::vector<uint8_t>> Get(const std::string& key, double timeout_seconds) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Peer names are "<role>/<rank>". Tags: comm::MakeTag(kind, step, microbatch, uid).
class UcxTransport : public BoundaryTransport {
 public:
  // Creates the UCX channel and publishes its address under "ucx/<role>/<rank>".
  static StatusOr<std::unique_ptr<UcxTransport>> Create(comm::KvStore* kv, Role role, int rank,
                                                        double timeout_seconds);
  ~UcxTransport() override;
  // Connects to every rank of `role` (`ranks` of them: the module's world
  // size), waiting for their addresses.
  Status ConnectTo(comm::KvStore* kv, Role role, int ranks);
  // Connects to the listed ranks of `role` (e.g. an LLM stage's pipeline neighbours).
  Status ConnectToRanks(comm::KvStore* kv, Role role, const std::vector<int>& ranks);
  Status Send(Role dst_role, int dst_rank, const BoundaryKey& key, std::vector<int64_t> shape,
              std::vector<float> data) override;
  StatusOr<Message> Recv(Role src_role, int src_rank, const BoundaryKey& key) override;
  Status FlushSends() override;
  void Expect(Role src_role, int src_rank, const BoundaryKey& key) override;
  void Poll() override;
  // Makes waits return Cancelled soon (thread-safe).
  void Cancel() { cancelled_ = true; }

 private:
  UcxTransport() = default;
  std::unique_ptr<comm::UcxChannel> channel_;
  std::vector<std::shared_ptr<comm::UcxChannel::Request>> sends_;
  std::map<uint64_t, std::shared_ptr<comm::UcxChannel::Request>> expected_;  // by tag
  double timeout_ = 60;
  std::atomic<bool> cancelled_{false};
};

class GlooDpGroup : public DpGroup {
 public:
  // Rendezvous under "<prefix>gloo/<role>/<group>/" of `kv`; `group` names
  // one group of the module (e.g. "dp-t0-p0", "tp-d1-p0"), rank is the
  // caller's position in it.
  static StatusOr<std::unique_ptr<GlooDpGroup>> Create(comm::KvStore* kv, Role role, const std::string& group,
                                                       int rank, int size, const std::string& host,
                                                       double timeout_seconds);
  ~GlooDpGroup() override;
  int size() const override { return group_->size(); }
  int rank() const override { return group_->rank(); }
  // Synchronous sums first wait for the started ones (one Gloo context, used
  // by one thread at a time).
  Status AllReduceSum(float* data, int64_t n) override;
  Status AllReduceSum(double* data, int64_t n) override;
  // Started sums run on the group's communication thread, in order, while
  // the caller computes.
  Status StartAllReduceSum(float* data, int64_t n) override;
  Status WaitAllReduces() override;

 private:
  GlooDpGroup() = default;
  void Loop();

  std::unique_ptr<comm::GlooGroup> group_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<float*, int64_t>> queue_;
  bool busy_ = false, stop_ = false;
  Status first_error_;
  std::thread thread_;
};

std::string PeerName(Role role, int rank);

}  // namespace braid::worker
