#include "common/comm/ucx_channel.h"

#include <ucp/api/ucp.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/comm/tag.h"

namespace braid::comm {
namespace {

constexpr uint32_t kWireMagic = 0x44524242;  // "BBRD"
constexpr size_t kHeaderBytes = sizeof(UcxChannel::Request::WireHeader);
static_assert(kHeaderBytes == 56, "wire header layout is part of the protocol");

// A send or receive that failed in flight: the peer or the transport is gone.
Status TransferError(const std::string& what, ucs_status_t st) {
  return Status::Unavailable(what + ": " + ucs_status_string(st));
}

std::string ShapeToString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

// Completion callbacks: they only record the outcome; the owning thread frees
// the UCX request and finishes the Request in Advance().
struct UcxCallbacks {
  using Iov = UcxChannel::Request::Iov;
  static_assert(sizeof(Iov) == sizeof(ucp_dt_iov_t) &&
                      offsetof(Iov, buffer) == offsetof(ucp_dt_iov_t, buffer) &&
                      offsetof(Iov, length) == offsetof(ucp_dt_iov_t, length),
                "Iov must mirror ucp_dt_iov_t");

  static void OnSend(void* /*request*/, ucs_status_t status, void* user_data) {
    auto* r = static_cast<UcxChannel::Request*>(user_data);
    r->ucp_completed_ = true;
    r->ucp_status_ = status;
  }
  static void OnRecv(void* /*request*/, ucs_status_t status, const ucp_tag_recv_info_t* /*info*/,
                     void* user_data) {
    auto* r = static_cast<UcxChannel::Request*>(user_data);
    r->ucp_completed_ = true;
    r->ucp_status_ = status;
  }
};



void UcxChannel::Request::Finish(Status s) {
  state_ = State::kDone;
  completed_unix_ = UnixNowSeconds();
  status_ = std::move(s);
}

std::string UcxChannel::Request::Describe() const {
  std::string d = std::string(is_send_ ? "send of " : "receive of ") + TagToString(tag_);
  if (!peer_.empty()) d += (is_send_ ? " to " : " from ") + peer_;
  return d;
}

StatusOr<std::unique_ptr<UcxChannel>> UcxChannel::Create(const UcxOptions& opt) {
  if (!(opt.timeout_seconds > 0)) return Status::InvalidArgument("UcxOptions.timeout_seconds must be > 0");
  std::unique_ptr<UcxChannel> ch(new UcxChannel(opt));
  ASSIGN_OR_RETURN(ch->ctx_, UcxContext::Create(opt));
  return ch;
}

UcxChannel::~UcxChannel() {
  if (ctx_ == nullptr) return;
  // 1. Cancel what is still in flight; give cancellations a moment to land.
  for (auto& r : inflight_) Cancel(*r);
  const double deadline = NowSeconds() + 0.2;
  while (!inflight_.empty() && NowSeconds() < deadline) Progress();
  for (auto& r : inflight_) {
    if (r->ucp_request_ != nullptr) {
      ucp_request_free(r->ucp_request_);  // no callback fires after this
      r->ucp_request_ = nullptr;
    }
    if (!r->done()) r->Finish(Status::Unavailable(r->Describe() + ": cancelled (channel closed)"));
  }
  // 2. Endpoints in a fixed order (std::map: sorted by peer name).
  for (auto& [peer, ep] : eps_) {
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    param.flags = 0;  // flush mode: FORCE needs error mode PEER on both sides
    Status s = ctx_->WaitRequest(ucp_ep_close_nbx(ep, &param), "closing endpoint to " + peer,
                                 opt_.close_timeout_seconds);
    if (!s.ok()) LOG_WARN("%s", s.ToString().c_str());
  }
  eps_.clear();
  // 3. Worker, then context. Buffers of requests UCX may still touch stay
  // alive (inflight_) until the worker is gone.
  ctx_.reset();
  inflight_.clear();
}

Status UcxChannel::Connect(const std::string& peer, const std::vector<uint8_t>& address) {
  if (peer.empty()) return Status::InvalidArgument("UCX peer name is empty");
  if (eps_.count(peer)) return Status::AlreadyExists("UCX peer " + peer + " is already connected");
  if (address.empty()) return Status::InvalidArgument("UCX address of peer " + peer + " is empty");
  ucp_ep_params_t params{};
  params.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE;
  params.address = reinterpret_cast<const ucp_address_t*>(address.data());
  params.err_mode = UCP_ERR_HANDLING_MODE_NONE;  // PEER mode loses shared memory (DESIGN §5)
  ucp_ep_h ep = nullptr;
  ucs_status_t st = ucp_ep_create(ctx_->worker(), &params, &ep);
  if (st != UCS_OK) return TransferError("connecting to UCX peer " + peer, st);  // e.g. peer gone
  eps_[peer] = ep;
  return Status::Ok();
}

StatusOr<std::shared_ptr<UcxChannel::Request>> UcxChannel::Isend(const std::string& peer, uint64_t tag,
                                                                  std::vector<int64_t> shape,
                                                                  std::vector<float> data) {
  auto it = eps_.find(peer);
  if (it == eps_.end()) return Status::NotFound("UCX peer " + peer + " is not connected (" + TagToString(tag) + ")");
  if (shape.size() > 4) {
    return Status::InvalidArgument("UCX message shape has more than 4 dims: " + ShapeToString(shape));
  }
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) return Status::InvalidArgument("UCX message shape has a negative dim: " + ShapeToString(shape));
    count *= d;
  }
  if (static_cast<uint64_t>(count) != data.size()) {
    return Status::InvalidArgument("UCX message shape " + ShapeToString(shape) + " does not match " +
                                   std::to_string(data.size()) + " floats");
  }

  auto r = std::make_shared<Request>();
  r->tag_ = tag;
  r->is_send_ = true;
  r->peer_ = peer;
  r->state_ = Request::State::kActive;
  r->shape_ = std::move(shape);
  r->data_ = std::move(data);
  r->header_.magic = kWireMagic;
  r->header_.ndim = static_cast<uint32_t>(r->shape_.size());
  for (size_t i = 0; i < r->shape_.size(); ++i) r->header_.dims[i] = r->shape_[i];
  r->header_.num_floats = r->data_.size();
  r->header_.sent_unix = UnixNowSeconds();
  r->iov_[0] = {&r->header_, kHeaderBytes};
  r->iov_[1] = {r->data_.data(), r->data_.size() * sizeof(float)};
  const size_t iovcnt = r->data_.empty() ? 1 : 2;

  ucp_request_param_t param{};
  param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_DATATYPE;
  param.cb.send = &UcxCallbacks::OnSend;
  param.user_data = r.get();
  param.datatype = ucp_dt_make_iov();
  ucs_status_ptr_t p = ucp_tag_send_nbx(it->second, r->iov_, iovcnt, tag, &param);
  sent_since_progress_ = true;
  if (p == nullptr) {
    r->Finish(Status::Ok());
  } else if (UCS_PTR_IS_ERR(p)) {
    return TransferError(r->Describe(), UCS_PTR_STATUS(p));
  } else {
    r->ucp_request_ = p;
    inflight_.push_back(r);
  }
  return r;
}

StatusOr<std::shared_ptr<UcxChannel::Request>> UcxChannel::Irecv(uint64_t tag, std::string expected_peer) {
  auto r = std::make_shared<Request>();
  r->tag_ = tag;
  r->peer_ = std::move(expected_peer);
  r->state_ = Request::State::kProbing;
  inflight_.push_back(r);
  Advance(*r);  // the message may already be here
  if (!r->done()) r->last_incomplete_unix_ = UnixNowSeconds();
  return r;
}

bool UcxChannel::Advance(Request& r) {
  if (r.state_ == Request::State::kDone) return false;
  bool moved = false;
  if (r.state_ == Request::State::kProbing) {
    ucp_tag_recv_info_t info{};
    ucp_tag_message_h msg = ucp_tag_probe_nb(ctx_->worker(), r.tag_, ~ucp_tag_t{0}, /*remove=*/1, &info);
    if (msg == nullptr) return false;
    moved = true;
    size_t iovcnt = 1;
    if (info.length < kHeaderBytes || (info.length - kHeaderBytes) % sizeof(float) != 0) {
      // Receive it anyway (into scratch) so UCX releases it; fails validation below.
      LOG_ERROR("%s: malformed message of %zu bytes", r.Describe().c_str(), info.length);
      r.data_.assign(info.length / sizeof(float) + 1, 0.0f);
      r.iov_[0] = {r.data_.data(), info.length};
      r.header_.magic = 0;
    } else {
      r.data_.resize((info.length - kHeaderBytes) / sizeof(float));
      r.iov_[0] = {&r.header_, kHeaderBytes};
      r.iov_[1] = {r.data_.data(), r.data_.size() * sizeof(float)};
      if (!r.data_.empty()) iovcnt = 2;
    }
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_DATATYPE;
    param.cb.recv = &UcxCallbacks::OnRecv;
    param.user_data = &r;
    param.datatype = ucp_dt_make_iov();
    ucs_status_ptr_t p = ucp_tag_msg_recv_nbx(ctx_->worker(), r.iov_, iovcnt, msg, &param);
    r.state_ = Request::State::kActive;
    if (p == nullptr || UCS_PTR_IS_ERR(p)) {
      r.ucp_completed_ = true;
      r.ucp_status_ = p == nullptr ? UCS_OK : UCS_PTR_STATUS(p);
    } else {
      r.ucp_request_ = p;
    }
  }
  if (!r.ucp_completed_) return moved;
  if (r.ucp_request_ != nullptr) {
    ucp_request_free(r.ucp_request_);
    r.ucp_request_ = nullptr;
  }
  const auto st = static_cast<ucs_status_t>(r.ucp_status_);
  if (st == UCS_ERR_CANCELED) {
    r.Finish(Status::Unavailable(r.Describe() + ": cancelled"));
  } else if (st != UCS_OK) {
    r.Finish(TransferError(r.Describe(), st));
  } else if (r.is_send_) {
    r.Finish(Status::Ok());
  } else {
    const Request::WireHeader& h = r.header_;
    bool ok = h.magic == kWireMagic && h.ndim <= 4 && h.num_floats == r.data_.size();
    uint64_t count = 1;
    for (uint32_t i = 0; ok && i < h.ndim; ++i) {
      ok = h.dims[i] >= 0;
      count *= static_cast<uint64_t>(h.dims[i]);
    }
    if (!ok || count != r.data_.size()) {
      r.data_.clear();
      r.Finish(Status::DataLoss(r.Describe() + ": malformed message header"));
    } else {
      r.shape_.assign(h.dims, h.dims + h.ndim);
      r.Finish(Status::Ok());
    }
  }
  return true;
}

bool UcxChannel::Progress() {
  // Messages arrive and requests complete inside ucp_worker_progress, or
  // inside our own sends (loopback): when neither happened since the last
  // round, no request can have changed, and probing each pending receive
  // again (a step posts ~100 up front) would be wasted.
  const bool progressed = ctx_->Progress() != 0 || sent_since_progress_;
  sent_since_progress_ = false;
  bool moved = progressed;
  double now = 0;
  for (auto& r : inflight_) {
    if (progressed) moved = Advance(*r) || moved;
    if (!r->done() && !r->is_send_) r->last_incomplete_unix_ = now != 0 ? now : (now = UnixNowSeconds());
  }
  std::erase_if(inflight_, [](const std::shared_ptr<Request>& r) { return r->done(); });
  return moved;
}

bool UcxChannel::Test(Request& r) {
  if (!r.done()) Progress();
  return r.done();
}

void UcxChannel::Cancel(Request& r) {
  if (r.done()) return;
  if (r.state_ == Request::State::kProbing) {
    r.Finish(Status::Unavailable(r.Describe() + ": cancelled"));
  } else if (r.ucp_request_ != nullptr && !r.ucp_completed_) {
    ucp_request_cancel(ctx_->worker(), r.ucp_request_);  // completes with UCS_ERR_CANCELED
  }
}

Status UcxChannel::WaitUntil(const std::vector<Request*>& reqs, double timeout_seconds) {
  const double deadline = NowSeconds() + timeout_seconds;
  PollBackoff backoff;
  for (;;) {
    Request* pending = nullptr;
    for (Request* r : reqs) {
      if (!r->done()) {
        if (pending == nullptr) pending = r;
      } else if (!r->status().ok()) {
        return r->status();  // fail fast; the others stay posted
      }
    }
    if (pending == nullptr) return Status::Ok();
    if (NowSeconds() > deadline) {
      std::string what = pending->Describe();
      if (!pending->is_send_) {
        what += pending->state_ == Request::State::kProbing ? " (no message arrived)"
                                                            : " (message matched, transfer incomplete)";
      }
      char secs[32];
      std::snprintf(secs, sizeof(secs), "%g", timeout_seconds);
      return Status(StatusCode::kDeadlineExceeded, "UCX " + what + ": not complete after " + secs + " s");
    }
    backoff.Pause(Progress());
  }
}

Status UcxChannel::Wait(Request& r) { return Wait(r, opt_.timeout_seconds); }
Status UcxChannel::Wait(Request& r, double timeout_seconds) { return WaitUntil({&r}, timeout_seconds); }

Status UcxChannel::WaitAll(const std::vector<std::shared_ptr<Request>>& reqs) {
  return WaitAll(reqs, opt_.timeout_seconds);
}
Status UcxChannel::WaitAll(const std::vector<std::shared_ptr<Request>>& reqs, double timeout_seconds) {
  std::vector<Request*> raw;
  raw.reserve(reqs.size());
  for (const auto& r : reqs) raw.push_back(r.get());
  return WaitUntil(raw, timeout_seconds);
}

}  // namespace braid::comm
