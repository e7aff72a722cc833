#include "common/parallel/local_tp_group.h"

#include <chrono>

#include "common/base/check.h"

namespace braid::parallel {

class LocalTpGroup::Member : public TpComm {
 public:
  Member(LocalTpGroup* g, int r) : g_(g), r_(r) {}
  int size() const override { return g_->size_; }
  int rank() const override { return r_; }
  Status AllReduceSum(float* data, int64_t n) override { return g_->AllReduceSum(r_, data, n); }

 private:
  LocalTpGroup* g_;
  int r_;
};

LocalTpGroup::LocalTpGroup(int size, double timeout_seconds)
    : size_(size), timeout_(timeout_seconds), bufs_(size_t(size), nullptr) {
  BRAID_CHECK(size >= 1);
  for (int r = 0; r < size; ++r) members_.push_back(std::make_unique<Member>(this, r));
}

LocalTpGroup::~LocalTpGroup() = default;

TpComm* LocalTpGroup::rank(int r) { return members_.at(size_t(r)).get(); }

// Two phases per call: every rank deposits its pointer; the last one sums in
// rank order into sum_; every rank copies sum_ out; the last to leave opens
// the next call.
Status LocalTpGroup::AllReduceSum(int rank, float* data, int64_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_);
  auto wait = [&](auto pred) {
    return cv_.wait_until(lock, deadline, pred) ? Status::Ok()
                                                : Status(StatusCode::kDeadlineExceeded, "local TP all-reduce: rank " +
                                                                           std::to_string(rank) + " waited " +
                                                                           std::to_string(timeout_) + " s");
  };
  RETURN_IF_ERROR(wait([&] { return left_ == 0; }));  // the previous call has emptied
  if (arrived_ == 0) n_ = n;
  if (n != n_)
    return Status::InvalidArgument("local TP all-reduce: rank " + std::to_string(rank) + " sums " +
                                   std::to_string(n) + " values, another rank " + std::to_string(n_));
  bufs_[size_t(rank)] = data;
  const int64_t gen = generation_;
  if (++arrived_ == size_) {
    sum_.assign(size_t(n), 0.0f);
    for (int r = 0; r < size_; ++r)
      for (int64_t i = 0; i < n; ++i) sum_[size_t(i)] += bufs_[size_t(r)][i];
    arrived_ = 0;
    left_ = size_;
    ++generation_;
    cv_.notify_all();
  } else {
    RETURN_IF_ERROR(wait([&] { return generation_ != gen; }));
  }
  std::copy(sum_.begin(), sum_.end(), data);
  if (--left_ == 0) cv_.notify_all();
  return Status::Ok();
}

}  // namespace braid::parallel
