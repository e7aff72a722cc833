#include "common/comm/ucx_context.h"

#include <ucp/api/ucp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "common/base/clock.h"
#include "common/base/log.h"

namespace braid::comm {
namespace {

Status UcxError(const std::string& what, ucs_status_t st) {
  return Status::Internal(what + ": " + ucs_status_string(st));
}

// Applies `value` to a UCX option unless the operator set UCX_<name>.
Status SetDefault(ucp_config_t* config, const char* name, const std::string& value) {
  if (value.empty() || std::getenv((std::string("UCX_") + name).c_str()) != nullptr) return Status::Ok();
  ucs_status_t st = ucp_config_modify(config, name, value.c_str());
  if (st != UCS_OK) return Status::InvalidArgument(std::string("UCX option ") + name + "=" + value + ": " +
                                                   ucs_status_string(st));
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<UcxContext>> UcxContext::Create(const UcxOptions& opt) {
  std::unique_ptr<UcxContext> c(new UcxContext());

  ucp_config_t* config = nullptr;
  ucs_status_t st = ucp_config_read(nullptr, nullptr, &config);
  if (st != UCS_OK) return UcxError("ucp_config_read", st);
  Status s = SetDefault(config, "NET_DEVICES", opt.net_devices);
  if (s.ok()) s = SetDefault(config, "TLS", opt.transports);
  if (!s.ok()) {
    ucp_config_release(config);
    return s;
  }

  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED;
  params.features = UCP_FEATURE_TAG;
  params.mt_workers_shared = 0;
  st = ucp_init(&params, config, &c->context_);
  ucp_config_release(config);
  if (st != UCS_OK) return UcxError("ucp_init", st);

  ucp_worker_params_t wparams{};
  wparams.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  wparams.thread_mode = UCS_THREAD_MODE_SINGLE;
  st = ucp_worker_create(c->context_, &wparams, &c->worker_);
  if (st != UCS_OK) return UcxError("ucp_worker_create", st);

  ucp_worker_attr_t attr{};
  attr.field_mask = UCP_WORKER_ATTR_FIELD_ADDRESS;
  st = ucp_worker_query(c->worker_, &attr);
  if (st != UCS_OK) return UcxError("ucp_worker_query(address)", st);
  const auto* bytes = reinterpret_cast<const uint8_t*>(attr.address);
  c->address_.assign(bytes, bytes + attr.address_length);
  ucp_worker_release_address(c->worker_, attr.address);
  return c;
}

UcxContext::~UcxContext() {
  if (worker_ != nullptr) ucp_worker_destroy(worker_);
  if (context_ != nullptr) ucp_cleanup(context_);
}

unsigned UcxContext::Progress() { return ucp_worker_progress(worker_); }

Status UcxContext::WaitRequest(void* status_ptr, const std::string& what, double timeout_seconds) {
  if (status_ptr == nullptr) return Status::Ok();
  if (UCS_PTR_IS_ERR(status_ptr)) return UcxError(what, UCS_PTR_STATUS(status_ptr));
  const double deadline = NowSeconds() + timeout_seconds;
  PollBackoff backoff;
  ucs_status_t st;
  while ((st = ucp_request_check_status(status_ptr)) == UCS_INPROGRESS) {
    if (NowSeconds() > deadline) {
      ucp_request_free(status_ptr);  // no callbacks after this; UCX releases it when done
      return Status(StatusCode::kDeadlineExceeded, what + ": not complete after " +
                                                       std::to_string(timeout_seconds) + " s");
    }
    backoff.Pause(ucp_worker_progress(worker_) != 0);
  }
  ucp_request_free(status_ptr);
  return st == UCS_OK ? Status::Ok() : UcxError(what, st);
}

void PollBackoff::Pause(bool progressed) {
  if (progressed) {
    idle_ = 0;
    return;
  }
  ++idle_;
  if (idle_ < 64) return;  // busy-poll: lowest latency for messages already in flight
  if (idle_ < 256) {
    std::this_thread::yield();
    return;
  }
  // Long waits (a peer still computing) must not burn a core that a
  // computing process on the same machine needs: nap, growing from 20 us to
  // 1 ms, which bounds the added latency to about a millisecond.
  const uint32_t k = std::min<uint32_t>(idle_ - 256, 6);
  std::this_thread::sleep_for(std::chrono::microseconds(20u << k > 1000u ? 1000u : 20u << k));
}

}  // namespace braid::comm
