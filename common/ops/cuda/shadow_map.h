// ShadowMap: the pure bookkeeping behind the bf16 shadow weights of the
// autocast CUDA backend (docs/GPU.md, step 5, "Mixed precision (as built)").
// Host-only and free of CUDA, so it is a CPU test (ops_autocast_map_test).
//
// A registered range is a flat fp32 parameter array [base, base + n) (a
// ParamBuffer's params) with a bf16 mirror of the same n elements: a weight
// pointer inside the range maps to the mirror at the same element offset. A
// range is `stale` when its fp32 values changed without the mirror being
// rewritten (a host upload, a device copy into it); whoever reads the mirror
// refreshes it first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace braid::cuda {

class ShadowMap {
 public:
  struct Range {
    const float* base = nullptr;
    int64_t n = 0;
    void* shadow = nullptr;  // n bf16 elements (owned by the caller)
    bool stale = false;
  };

  // Index of the range holding all of [p, p + count), or -1. count 0 asks
  // for p itself to be inside a range.
  int Find(const void* p, int64_t count) const {
    const uintptr_t lo = Addr(p), hi = lo + Bytes(count > 0 ? count : 1);
    for (size_t i = 0; i < ranges_.size(); ++i) {
      const uintptr_t b = Addr(ranges_[i].base), e = b + Bytes(ranges_[i].n);
      // Whole floats only: a pointer between two elements is not a weight.
      if (lo >= b && hi <= e && (lo - b) % sizeof(float) == 0) return static_cast<int>(i);
    }
    return -1;
  }

  // Element offset of p inside range i (p must be inside it: Find).
  int64_t Offset(int i, const void* p) const {
    return static_cast<int64_t>((Addr(p) - Addr(ranges_[static_cast<size_t>(i)].base)) / sizeof(float));
  }

  // Indices of the ranges that share a byte with [p, p + bytes).
  std::vector<int> Overlapping(const void* p, size_t bytes) const {
    std::vector<int> out;
    if (bytes == 0) return out;
    const uintptr_t lo = Addr(p), hi = lo + bytes;
    for (size_t i = 0; i < ranges_.size(); ++i) {
      const uintptr_t b = Addr(ranges_[i].base), e = b + Bytes(ranges_[i].n);
      if (lo < e && b < hi) out.push_back(static_cast<int>(i));
    }
    return out;
  }

  // Marks every range sharing a byte with [p, p + bytes) stale; returns how many.
  int MarkStale(const void* p, size_t bytes) {
    const std::vector<int> hit = Overlapping(p, bytes);
    for (int i : hit) ranges_[static_cast<size_t>(i)].stale = true;
    return static_cast<int>(hit.size());
  }
  void MarkAllStale() {
    for (Range& r : ranges_) r.stale = true;
  }

  // Adds a range (the caller removed any overlapping one first: ranges
  // never overlap). Returns its index.
  int Add(const float* base, int64_t n, void* shadow, bool stale) {
    ranges_.push_back(Range{base, n, shadow, stale});
    return static_cast<int>(ranges_.size() - 1);
  }
  // Removes range i and returns it (the caller frees its shadow). Indices of
  // later ranges shift down by one.
  Range Remove(int i) {
    const Range r = ranges_[static_cast<size_t>(i)];
    ranges_.erase(ranges_.begin() + i);
    return r;
  }

  int size() const { return static_cast<int>(ranges_.size()); }
  Range& at(int i) { return ranges_[static_cast<size_t>(i)]; }
  const Range& at(int i) const { return ranges_[static_cast<size_t>(i)]; }

 private:
  static uintptr_t Addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }
  static uintptr_t Bytes(int64_t n) { return static_cast<uintptr_t>(n) * sizeof(float); }
  std::vector<Range> ranges_;
};

}  // namespace braid::cuda
