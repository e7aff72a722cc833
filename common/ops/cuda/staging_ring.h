// Where host-to-device uploads are staged in a pinned ring buffer (the pure
// bookkeeping of CudaMemory::CopyFromHost, docs/GPU.md "Uploads"; no CUDA
// here, tested on the CPU by ops_staging_ring_test).
//
// cudaMemcpyAsync from pageable memory may synchronise with the stream
// (the driver stages it through pinned memory of its own), which would be
// a wait in the step's hot path for every microbatch's pixels and index
// arrays. CudaMemory instead copies the bytes into a pinned ring on the
// host and enqueues the copy from there, which never waits. A ring region
// may be reused once the copy that read it has run: each upload records an
// event, and Reserve names the earlier uploads whose regions the new one
// overlaps, which the caller waits for (oldest first) before writing; with
// a ring larger than a step's uploads that wait never happens, since the
// step's report already waited for its stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace braid::cuda {

class StagingRing {
 public:
  static constexpr size_t kAlign = 256;

  explicit StagingRing(size_t capacity) : capacity_(capacity / kAlign * kAlign) {}
  size_t capacity() const { return capacity_; }

  struct Slot {
    size_t offset = 0;            // where the upload's bytes go in the ring
    uint64_t id = 0;              // its ticket (the caller's event for it)
    std::vector<uint64_t> waits;  // earlier uploads to wait for first, oldest first
  };

  // A region for `bytes` (> 0): none when it is larger than the ring (the
  // caller copies from pageable memory instead). The uploads in `waits`
  // are no longer tracked: the caller must have waited for them before it
  // writes the region.
  std::optional<Slot> Reserve(size_t bytes) {
    const size_t size = (bytes + kAlign - 1) / kAlign * kAlign;
    if (bytes == 0 || size > capacity_) return std::nullopt;
    if (head_ + size > capacity_) head_ = 0;  // wrap: the tail end stays unused this lap
    Slot s;
    s.offset = head_;
    s.id = next_id_++;
    while (Overlaps(s.offset, size)) {  // wait for the oldest until none overlaps
      s.waits.push_back(in_flight_.front().id);
      in_flight_.pop_front();
    }
    in_flight_.push_back({s.id, s.offset, size});
    head_ += size;
    return s;
  }

  // Uploads not known to have completed (tests).
  size_t in_flight() const { return in_flight_.size(); }

 private:
  struct Entry {
    uint64_t id;
    size_t offset, size;
  };
  bool Overlaps(size_t offset, size_t size) const {
    for (const Entry& e : in_flight_)
      if (e.offset < offset + size && offset < e.offset + e.size) return true;
    return false;
  }

  size_t capacity_;
  size_t head_ = 0;
  uint64_t next_id_ = 1;
  std::deque<Entry> in_flight_;
};

}  // namespace braid::cuda
