#include "common/worker/inproc_fabric.h"

#include "common/base/clock.h"

#include <chrono>

#include "common/base/check.h"

namespace braid::worker {

class InProcFabric::Transport : public BoundaryTransport {
 public:
  Transport(InProcFabric* f, Role role, int rank) : f_(f), role_(role), rank_(rank) {}
  Status Send(Role dst_role, int dst_rank, const BoundaryKey& key, std::vector<int64_t> shape,
              std::vector<float> data) override {
    const double now = UnixNowSeconds();  // delivered as it is sent
    f_->Put(dst_role, dst_rank, role_, rank_, key, Message{std::move(shape), std::move(data), now, now, now});
    return Status::Ok();
  }
  StatusOr<Message> Recv(Role src_role, int src_rank, const BoundaryKey& key) override {
    return f_->Take(role_, rank_, src_role, src_rank, key);
  }
  Status FlushSends() override { return Status::Ok(); }

 private:
  InProcFabric* f_;
  Role role_;
  int rank_;
};

// All-reduce among the threads of one module: each rank deposits its buffer;
// the last to arrive sums them in rank order (deterministic) and publishes.
struct InProcFabric::GroupShared {
  int size;
  std::mutex mu;
  std::condition_variable cv;
  int64_t generation = 0;
  int arrived = 0;
  std::vector<const void*> inputs;
  std::vector<double> result;
  int readers_left = 0;
};

class InProcFabric::Group : public DpGroup {
 public:
  Group(std::shared_ptr<GroupShared> s, int rank, double timeout) : s_(std::move(s)), rank_(rank), timeout_(timeout) {}
  int size() const override { return s_->size; }
  int rank() const override { return rank_; }
  Status AllReduceSum(float* data, int64_t n) override { return Reduce(data, n); }
  Status AllReduceSum(double* data, int64_t n) override { return Reduce(data, n); }

 private:
  template <typename T>
  Status Reduce(T* data, int64_t n) {
    if (s_->size == 1) return Status::Ok();
    std::unique_lock<std::mutex> lock(s_->mu);
    // Wait until the previous round's readers are done.
    if (!s_->cv.wait_for(lock, std::chrono::duration<double>(timeout_), [&] { return s_->readers_left == 0; }))
      return Status(StatusCode::kDeadlineExceeded, "in-process all-reduce: previous round never drained");
    const int64_t gen = s_->generation;
    if (s_->arrived == 0) s_->inputs.assign(size_t(s_->size), nullptr);
    s_->inputs[size_t(rank_)] = data;
    if (++s_->arrived == s_->size) {
      s_->result.assign(size_t(n), 0.0);
      for (int r = 0; r < s_->size; ++r) {
        const T* in = static_cast<const T*>(s_->inputs[size_t(r)]);
        if (r == 0)
          for (int64_t i = 0; i < n; ++i) s_->result[size_t(i)] = double(in[i]);
        else
          for (int64_t i = 0; i < n; ++i) s_->result[size_t(i)] = double(T(s_->result[size_t(i)]) + in[i]);
      }
      s_->arrived = 0;
      s_->readers_left = s_->size;
      ++s_->generation;
      s_->cv.notify_all();
    } else if (!s_->cv.wait_for(lock, std::chrono::duration<double>(timeout_),
                                [&] { return s_->generation != gen; })) {
      return Status(StatusCode::kDeadlineExceeded, "in-process all-reduce: a rank never arrived");
    }
    for (int64_t i = 0; i < n; ++i) data[i] = T(s_->result[size_t(i)]);
    if (--s_->readers_left == 0) s_->cv.notify_all();
    return Status::Ok();
  }

  std::shared_ptr<GroupShared> s_;
  int rank_;
  double timeout_;
};

InProcFabric::InProcFabric(int encoder_dp, int llm_dp, int generator_dp, double timeout_seconds)
    : InProcFabric({parallel::Layout{encoder_dp, 1, 1}, parallel::Layout{llm_dp, 1, 1},
                    parallel::Layout{generator_dp, 1, 1}},
                   timeout_seconds) {}

InProcFabric::InProcFabric(const std::array<parallel::Layout, kNumRoles>& layouts, double timeout_seconds)
    : timeout_(timeout_seconds) {
  transports_.resize(kNumRoles);
  groups_.resize(kNumRoles);
  tp_groups_.resize(kNumRoles);
  mp_groups_.resize(kNumRoles);
  for (int r = 0; r < kNumRoles; ++r) {
    const parallel::Layout& l = layouts[size_t(r)];
    // One shared state per group, found by its member list.
    std::map<std::vector<int>, std::shared_ptr<GroupShared>> dp_shared, tp_shared, mp_shared;
    auto shared_of = [](std::map<std::vector<int>, std::shared_ptr<GroupShared>>& m, const std::vector<int>& members) {
      auto& s = m[members];
      if (!s) {
        s = std::make_shared<GroupShared>();
        s->size = int(members.size());
      }
      return s;
    };
    for (int k = 0; k < l.world(); ++k) {
      const parallel::Coord c = parallel::CoordOf(l, k);
      transports_[size_t(r)].push_back(std::make_unique<Transport>(this, Role(r), k));
      groups_[size_t(r)].push_back(
          std::make_unique<Group>(shared_of(dp_shared, parallel::DpGroup(l, k)), c.dp, timeout_seconds));
      tp_groups_[size_t(r)].push_back(
          std::make_unique<Group>(shared_of(tp_shared, parallel::TpGroup(l, k)), c.tp, timeout_seconds));
      mp_groups_[size_t(r)].push_back(std::make_unique<Group>(shared_of(mp_shared, parallel::ModelParallelGroup(l, k)),
                                                              c.pp * l.tp + c.tp, timeout_seconds));
    }
  }
}

InProcFabric::~InProcFabric() = default;

BoundaryTransport* InProcFabric::transport(Role role, int rank) {
  return transports_.at(size_t(role)).at(size_t(rank)).get();
}
DpGroup* InProcFabric::dp_group(Role role, int rank) { return groups_.at(size_t(role)).at(size_t(rank)).get(); }
DpGroup* InProcFabric::tp_group(Role role, int rank) { return tp_groups_.at(size_t(role)).at(size_t(rank)).get(); }
DpGroup* InProcFabric::mp_group(Role role, int rank) { return mp_groups_.at(size_t(role)).at(size_t(rank)).get(); }

void InProcFabric::Put(Role dst_role, int dst_rank, Role src_role, int src_rank, const BoundaryKey& key, Message m) {
  std::lock_guard<std::mutex> lock(mu_);
  mailbox_[Key{int(dst_role), dst_rank, int(src_role), src_rank, uint32_t(key.kind), key.step, key.microbatch,
               key.uid}] = std::move(m);
  cv_.notify_all();
}

StatusOr<Message> InProcFabric::Take(Role dst_role, int dst_rank, Role src_role, int src_rank,
                                     const BoundaryKey& key) {
  const Key k{int(dst_role), dst_rank, int(src_role), src_rank, uint32_t(key.kind), key.step, key.microbatch, key.uid};
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, std::chrono::duration<double>(timeout_), [&] { return mailbox_.count(k) > 0; }))
    return Status(StatusCode::kDeadlineExceeded, "no message " + key.ToString() + " from " + RoleName(src_role) +
                                                     " rank " + std::to_string(src_rank) + " within " +
                                                     std::to_string(timeout_) + " s");
  auto it = mailbox_.find(k);
  Message m = std::move(it->second);
  mailbox_.erase(it);
  return m;
}

}  // namespace braid::worker
