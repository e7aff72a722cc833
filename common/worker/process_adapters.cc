#include "common/worker/process_adapters.h"

#include <grpcpp/grpcpp.h>

#include "braid/v1/rendezvous.grpc.pb.h"
#include "common/base/clock.h"
#include "common/comm/tag.h"
#include "common/rpc/client_context.h"
#include "common/rpc/status_convert.h"

namespace braid::worker {

std::string PeerName(Role role, int rank) { return std::string(RoleName(role)) + "/" + std::to_string(rank); }

// ---- GrpcKvStore -------------------------------------------------------------

struct GrpcKvStore::Impl {
  std::unique_ptr<v1::Rendezvous::Stub> stub;
};

GrpcKvStore::GrpcKvStore(const std::string& address, const rpc::RpcSecurity& security)
    : impl_(std::make_unique<Impl>()) {
  impl_->stub = v1::Rendezvous::NewStub(rpc::MakeChannel(address, security));
}
GrpcKvStore::~GrpcKvStore() = default;

Status GrpcKvStore::Set(const std::string& key, const std::vector<uint8_t>& value) {
  v1::SetKeyRequest req;
  req.set_key(key);
  req.set_value(std::string(value.begin(), value.end()));
  v1::SetKeyReply reply;
  auto ctx = rpc::MakeContext();
  return rpc::FromGrpcStatus(impl_->stub->SetKey(ctx.get(), req, &reply));
}

StatusOr<std::vector<uint8_t>> GrpcKvStore::Get(const std::string& key, double timeout_seconds) {
  v1::GetKeyRequest req;
  req.set_key(key);
  req.set_wait_seconds(std::max(0.0, timeout_seconds));
  v1::GetKeyReply reply;
  auto ctx = rpc::MakeContext(std::max(0.0, timeout_seconds) + rpc::kLongPollSlackSeconds);
  Status s = rpc::FromGrpcStatus(impl_->stub->GetKey(ctx.get(), req, &reply));
  if (!s.ok()) return s;
  return std::vector<uint8_t>(reply.value().begin(), reply.value().end());
}

// ---- UcxTransport ------------------------------------------------------------

// A boundary kind is its UCX tag kind.
static_assert(uint32_t(BoundaryKind::kEncToLlm) == comm::kEncToLlmFwd &&
              uint32_t(BoundaryKind::kLlmToEnc) == comm::kLlmToEncBwd &&
              uint32_t(BoundaryKind::kLlmToGen) == comm::kLlmToGenFwd &&
              uint32_t(BoundaryKind::kGenToLlm) == comm::kGenToLlmBwd);

StatusOr<std::unique_ptr<UcxTransport>> UcxTransport::Create(comm::KvStore* kv, Role role, int rank,
                                                             double timeout_seconds) {
  auto t = std::unique_ptr<UcxTransport>(new UcxTransport());
  t->timeout_ = timeout_seconds;
  comm::UcxOptions opt;
  opt.timeout_seconds = timeout_seconds;
  ASSIGN_OR_RETURN(t->channel_, comm::UcxChannel::Create(opt));
  RETURN_IF_ERROR(kv->Set("ucx/" + PeerName(role, rank), t->channel_->address()));
  return t;
}

UcxTransport::~UcxTransport() = default;

Status UcxTransport::ConnectTo(comm::KvStore* kv, Role role, int ranks) {
  std::vector<int> all(static_cast<size_t>(ranks));
  for (int r = 0; r < ranks; ++r) all[size_t(r)] = r;
  return ConnectToRanks(kv, role, all);
}

Status UcxTransport::ConnectToRanks(comm::KvStore* kv, Role role, const std::vector<int>& ranks) {
  for (int r : ranks) {
    const std::string peer = PeerName(role, r);
    ASSIGN_OR_RETURN(std::vector<uint8_t> addr, kv->Get("ucx/" + peer, timeout_));
    RETURN_IF_ERROR(channel_->Connect(peer, addr));
  }
  return Status::Ok();
}

Status UcxTransport::Send(Role dst_role, int dst_rank, const BoundaryKey& key, std::vector<int64_t> shape,
                          std::vector<float> data) {
  const uint64_t tag = comm::MakeTag(uint32_t(key.kind), uint64_t(key.step), uint32_t(key.microbatch), key.uid);
  ASSIGN_OR_RETURN(auto req, channel_->Isend(PeerName(dst_role, dst_rank), tag, std::move(shape), std::move(data)));
  sends_.push_back(std::move(req));
  channel_->Progress();
  return Status::Ok();
}

void UcxTransport::Expect(Role src_role, int src_rank, const BoundaryKey& key) {
  const uint64_t tag = comm::MakeTag(uint32_t(key.kind), uint64_t(key.step), uint32_t(key.microbatch), key.uid);
  if (expected_.count(tag) != 0) return;
  StatusOr<std::shared_ptr<comm::UcxChannel::Request>> req = channel_->Irecv(tag, PeerName(src_role, src_rank));
  if (req.ok()) expected_.emplace(tag, std::move(*req));  // on error Recv posts it again and reports
}

void UcxTransport::Poll() { channel_->Progress(); }

StatusOr<Message> UcxTransport::Recv(Role src_role, int src_rank, const BoundaryKey& key) {
  const uint64_t tag = comm::MakeTag(uint32_t(key.kind), uint64_t(key.step), uint32_t(key.microbatch), key.uid);
  std::shared_ptr<comm::UcxChannel::Request> req;
  if (auto it = expected_.find(tag); it != expected_.end()) {
    req = std::move(it->second);
    expected_.erase(it);
  } else {
    ASSIGN_OR_RETURN(req, channel_->Irecv(tag, PeerName(src_role, src_rank)));
  }
  // Wait in slices so a cancel (job cancelled, peer lost) is noticed quickly.
  const double deadline = NowSeconds() + timeout_;
  while (true) {
    Status s = channel_->Wait(*req, 0.25);
    if (s.ok()) break;
    if (s.code() != StatusCode::kDeadlineExceeded) return s;
    if (cancelled_) {
      channel_->Cancel(*req);
      return Status(StatusCode::kUnavailable, "cancelled while waiting for " + key.ToString());
    }
    if (NowSeconds() > deadline) {
      channel_->Cancel(*req);
      return Status(StatusCode::kDeadlineExceeded, "no message " + key.ToString() + " from " +
                                                       PeerName(src_role, src_rank) + " within " +
                                                       std::to_string(int(timeout_)) + " s");
    }
  }
  Message m;
  m.shape = req->shape();
  m.data = req->TakeData();
  m.sent_unix = req->sent_unix();
  m.arrived_after_unix = req->last_incomplete_unix();
  m.arrived_by_unix = req->completed_unix();
  // Drop completed sends so the list does not grow over a step.
  std::erase_if(sends_, [](const auto& r) { return r->done() && r->status().ok(); });
  return m;
}

Status UcxTransport::FlushSends() {
  Status s = channel_->WaitAll(sends_);
  sends_.clear();
  return s;
}

// ---- GlooDpGroup -------------------------------------------------------------

StatusOr<std::unique_ptr<GlooDpGroup>> GlooDpGroup::Create(comm::KvStore* kv, Role role, const std::string& group,
                                                           int rank, int size, const std::string& host,
                                                           double timeout_seconds) {
  auto g = std::unique_ptr<GlooDpGroup>(new GlooDpGroup());
  comm::PrefixKvStore scoped(kv, std::string("gloo/") + RoleName(role) + "/" + group + "/");
  comm::GlooGroupOptions opt;
  opt.hostname = host;
  opt.timeout_seconds = timeout_seconds;
  ASSIGN_OR_RETURN(g->group_, comm::GlooGroup::Create(&scoped, rank, size, opt));
  return g;
}

GlooDpGroup::~GlooDpGroup() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void GlooDpGroup::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and nothing left
    auto [data, n] = queue_.front();
    queue_.pop_front();
    busy_ = true;
    const bool skip = !first_error_.ok();  // after a failure the group is unusable
    lock.unlock();
    Status s = skip ? Status::Ok() : group_->AllReduceSum(data, n);
    lock.lock();
    busy_ = false;
    if (!s.ok() && first_error_.ok()) first_error_ = s;
    cv_.notify_all();
  }
}

Status GlooDpGroup::StartAllReduceSum(float* data, int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  queue_.emplace_back(data, n);
  cv_.notify_all();
  return Status::Ok();
}

Status GlooDpGroup::WaitAllReduces() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
  Status s = first_error_;
  first_error_ = Status::Ok();
  return s;
}

Status GlooDpGroup::AllReduceSum(float* data, int64_t n) {
  RETURN_IF_ERROR(WaitAllReduces());
  return group_->AllReduceSum(data, n);
}

Status GlooDpGroup::AllReduceSum(double* data, int64_t n) {
  RETURN_IF_ERROR(WaitAllReduces());
  return group_->AllReduceSum(data, n);
}

}  // namespace braid::worker
