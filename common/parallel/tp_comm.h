// The one collective a tensor-parallel module needs inside its forward and
// backward (docs/PARALLELISM.md): a sum over its TP group. TpContext makes
// errors sticky so the math code stays void: after a failure every later
// collective is skipped (the numbers are garbage from then on) and the
// caller checks status() once the forward or backward returns, as it would
// check a CUDA stream.
#pragma once

#include <cstdint>

#include "common/base/status.h"

namespace braid::parallel {

class TpComm {
 public:
  virtual ~TpComm() = default;
  virtual int size() const = 0;
  virtual int rank() const = 0;
  // Sum over the group, in place; every rank ends with identical values.
  virtual Status AllReduceSum(float* data, int64_t n) = 0;
  // Cancel or a failing rank: abandons the group so its peers fail instead
  // of waiting (device communicators). Any thread; idempotent.
  virtual void Abort() {}
};

class TpContext {
 public:
  explicit TpContext(TpComm* comm = nullptr) : comm_(comm) {}
  int size() const { return comm_ ? comm_->size() : 1; }
  int rank() const { return comm_ ? comm_->rank() : 0; }
  // No-op for a group of one, and after an error.
  void AllReduceSum(float* data, int64_t n) {
    if (size() == 1 || !status_.ok()) return;
    status_ = comm_->AllReduceSum(data, n);
  }
  const Status& status() const { return status_; }
  void ClearStatus() { status_ = Status::Ok(); }
  // Another communicator of the same group (size and rank), e.g. NCCL on a device.
  void set_comm(TpComm* comm) { comm_ = comm; }

 private:
  TpComm* comm_;
  Status status_;
};

}  // namespace braid::parallel
