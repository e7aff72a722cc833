// A DeviceBoundary between ranks on guarded fake devices (guarded_device.h),
// in one process: device to device as NCCL's point-to-point would be, with
// its matching rule (between two ranks, in one direction, the i-th Recv
// gets the i-th Send), and stricter than NCCL: each transfer carries its key
// and a Recv fails naming both keys when the order differs, or the sizes.
// Sends are buffered (a copy), so the fake checks order, not deadlock
// freedom (device_boundary.h argues that).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "common/ops/backend.h"
#include "common/parallel/layout.h"
#include "common/worker/device_boundary.h"
#include "tests/support/guarded_device.h"

namespace braid::testing_support {

class GuardedBoundaryFabric {
 public:
  // Ranks numbered by the modules' layouts (JobWorldRank).
  explicit GuardedBoundaryFabric(const std::array<parallel::Layout, worker::kNumRoles>& layouts,
                                 double timeout_seconds = 30)
      : timeout_(timeout_seconds) {
    for (int r = 0; r < worker::kNumRoles; ++r) worlds_[r] = layouts[size_t(r)].world();
  }

  std::unique_ptr<worker::DeviceBoundary> Make(worker::Role role, int rank) {
    return std::make_unique<Endpoint>(this, worker::JobWorldRank(worlds_, role, rank));
  }
  int64_t transfers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return transfers_;
  }
  // Failure injection: sends of `kind` are lost from now on (their Send
  // returns OK; the receiver times out).
  void DropSends(worker::BoundaryKind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    dropped_.push_back(kind);
  }

 private:
  struct Transfer {
    worker::BoundaryKey key;
    std::vector<float> data;
  };
  using Channel = std::tuple<int, int, int>;  // src, dst, direction

 public:
  // One rank's end (what Make returns).
  class Endpoint : public worker::DeviceBoundary {
   public:
    Endpoint(GuardedBoundaryFabric* f, int me) : f_(f), me_(me) {}
    const char* name() const override { return "guarded-fake"; }
    Status Send(worker::Role dst_role, int dst_rank, const worker::BoundaryKey& key, const float* data,
                int64_t n) override {
      GuardedDevice& dev = Device();
      BRAID_CHECK_MSG(dev.Owns(data), "boundary send of %s from a host pointer", key.ToString().c_str());
      Transfer t{key, std::vector<float>(size_t(n))};
      dev.Open();
      std::memcpy(t.data.data(), data, size_t(n) * sizeof(float));
      dev.Close();
      const Channel c{me_, worker::JobWorldRank(f_->worlds_, dst_role, dst_rank), int(worker::DirectionOf(key.kind))};
      {
        std::lock_guard<std::mutex> lock(f_->mu_);
        for (worker::BoundaryKind k : f_->dropped_)
          if (k == key.kind) return Status::Ok();
        f_->channels_[c].push_back(std::move(t));
        ++f_->transfers_;
      }
      f_->cv_.notify_all();
      return Status::Ok();
    }
    Status Recv(worker::Role src_role, int src_rank, const worker::BoundaryKey& key, float* data,
                int64_t n) override {
      GuardedDevice& dev = Device();
      BRAID_CHECK_MSG(dev.Owns(data), "boundary recv of %s into a host pointer", key.ToString().c_str());
      const Channel c{worker::JobWorldRank(f_->worlds_, src_role, src_rank), me_, int(worker::DirectionOf(key.kind))};
      Transfer t;
      {
        std::unique_lock<std::mutex> lock(f_->mu_);
        std::deque<Transfer>& q = f_->channels_[c];
        if (!f_->cv_.wait_for(lock, std::chrono::duration<double>(f_->timeout_), [&] { return !q.empty(); }))
          return Status(StatusCode::kDeadlineExceeded, "boundary recv of " + key.ToString() + ": nothing sent");
        t = std::move(q.front());
        q.pop_front();
      }
      if (t.key != key)
        return Status::Internal("boundary order differs: received " + t.key.ToString() + " where " +
                                key.ToString() + " was expected");
      if (int64_t(t.data.size()) != n)
        return Status::Internal("boundary " + key.ToString() + ": " + std::to_string(t.data.size()) +
                                " floats sent, " + std::to_string(n) + " expected");
      dev.Open();
      std::memcpy(data, t.data.data(), size_t(n) * sizeof(float));
      dev.Close();
      return Status::Ok();
    }
    Status Flush() override {
      const int64_t reads = Device().host_reads();
      std::lock_guard<std::mutex> lock(f_->mu_);
      f_->reads_at_flush_[me_].push_back(reads);
      return Status::Ok();
    }

   private:
    static GuardedDevice& Device() { return CurrentGuardedDevice(); }
    GuardedBoundaryFabric* f_;
    int me_;
  };

  // Rank (role, rank)'s device's host reads (GuardedDevice::host_reads) at
  // each of its Flushes, the ends of its steps' transfers.
  std::vector<int64_t> host_reads_at_flush(worker::Role role, int rank) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = reads_at_flush_.find(worker::JobWorldRank(worlds_, role, rank));
    return it == reads_at_flush_.end() ? std::vector<int64_t>{} : it->second;
  }

 private:
  int worlds_[worker::kNumRoles] = {0, 0, 0};
  double timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<Channel, std::deque<Transfer>> channels_;
  int64_t transfers_ = 0;
  std::map<int, std::vector<int64_t>> reads_at_flush_;
  std::vector<worker::BoundaryKind> dropped_;
};

}  // namespace braid::testing_support
