// TP groups whose ranks are threads of one process: the tensor-parallel
// math runs (and is tested against the single-process model) without
// sockets. Sums are taken in rank order, so every rank gets bit-identical
// results and a run is deterministic.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "common/parallel/tp_comm.h"

namespace braid::parallel {

class LocalTpGroup {
 public:
  // timeout_seconds: a rank that waits longer for the others gets
  // DeadlineExceeded (a test whose ranks diverged fails instead of hanging).
  explicit LocalTpGroup(int size, double timeout_seconds = 60);
  ~LocalTpGroup();
  int size() const { return size_; }
  TpComm* rank(int r);  // owned by the group

 private:
  class Member;
  Status AllReduceSum(int rank, float* data, int64_t n);
  int size_;
  double timeout_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<float*> bufs_;
  std::vector<float> sum_;
  int64_t n_ = -1;
  int arrived_ = 0, left_ = 0;
  int64_t generation_ = 0;
  std::vector<std::unique_ptr<Member>> members_;
};

}  // namespace braid::parallel
