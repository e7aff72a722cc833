// A fake device for testing the backend plumbing on a machine without a GPU
// (docs/GPU.md, step 3): its "device memory" is host memory that is
// read/write-protected (mprotect PROT_NONE) except while one of its ops
// runs. Model code that touches a device tensor from the host instead of
// through an op therefore faults at once, here, rather than reading garbage
// on a real GPU. Its ops are the CPU kernels, run with the memory opened.
//
// One GuardedDevice per rank thread: each has its own arena (mprotect works
// on its own pages), and a device is used by one thread at a time (rank
// threads may change between steps). An op finds its device through the
// calling thread's backend (its DeviceMemory), so rank threads each running
// on their own GuardedDevice do not interfere.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "common/base/check.h"
#include "common/ops/backend.h"

namespace braid::testing_support {

class GuardedDevice : public ops::DeviceMemory {
 public:
  explicit GuardedDevice(size_t arena_bytes = size_t{1} << 30) : cap_(arena_bytes) {
    base_ = static_cast<char*>(mmap(nullptr, cap_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    BRAID_CHECK(base_ != MAP_FAILED);
  }
  ~GuardedDevice() override { munmap(base_, cap_); }

  const char* name() const override { return "guarded-fake"; }
  // Bump allocation (tests are short): 64-byte aligned, zero-filled.
  void* Allocate(size_t bytes) override {
    const size_t at = (top_ + 63) & ~size_t{63};
    BRAID_CHECK_MSG(at + bytes <= cap_, "guarded device arena exhausted");
    top_ = at + bytes;
    ++allocations_;
    Open();
    std::memset(base_ + at, 0, bytes);
    Close();
    return base_ + at;
  }
  void Free(void*, size_t) override { ++frees_; }
  void Zero(void* p, size_t bytes) override {
    Open();
    std::memset(p, 0, bytes);
    Close();
  }
  void CopyDeviceToDevice(void* dst, const void* src, size_t bytes) override {
    Open();
    std::memmove(dst, src, bytes);
    Close();
  }
  void CopyToHost(void* dst, const void* src, size_t bytes) override {
    ++host_reads_;
    Open();
    std::memcpy(dst, src, bytes);
    Close();
  }
  void CopyFromHost(void* dst, const void* src, size_t bytes) override {
    Open();
    std::memcpy(dst, src, bytes);
    Close();
  }

  bool Owns(const void* p) const {
    const char* c = static_cast<const char*>(p);
    return c >= base_ && c < base_ + cap_;
  }
  // Opens the used part of the arena for the duration of an op (nests).
  void Open() {
    if (open_++ == 0 && top_ > 0) BRAID_CHECK(mprotect(base_, PageUp(top_), PROT_READ | PROT_WRITE) == 0);
  }
  void Close() {
    if (--open_ == 0 && top_ > 0) BRAID_CHECK(mprotect(base_, PageUp(top_), PROT_NONE) == 0);
  }
  int64_t allocations() const { return allocations_; }
  int64_t frees() const { return frees_; }
  // Copies to the host: each would be a wait for the stream on a GPU.
  int64_t host_reads() const { return host_reads_; }
  // Ops run on this device (GuardedOps counts them).
  int64_t ops_run() const { return ops_run_.load(); }
  void CountOp() { ++ops_run_; }

 private:
  static size_t PageUp(size_t n) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    return (n + page - 1) / page * page;
  }
  char* base_ = nullptr;
  size_t cap_ = 0;
  size_t top_ = 0;
  int open_ = 0;
  int64_t allocations_ = 0, frees_ = 0, host_reads_ = 0;
  std::atomic<int64_t> ops_run_{0};
};

// The calling thread's GuardedDevice: its backend's memory (aborts when the
// thread's device memory is something else).
inline GuardedDevice& CurrentGuardedDevice() {
  auto* d = dynamic_cast<GuardedDevice*>(ops::CurrentDeviceMemory());
  BRAID_CHECK_MSG(d != nullptr, "no GuardedDevice is the thread's device memory");
  return *d;
}

// The op table of a GuardedDevice: every op opens the arena, runs the CPU
// kernel (with no backend set, so it does not dispatch again), counts the
// call, and closes the arena.
class GuardedOps {
 public:
  // bf16_activations: the table also has bf16 activation ops (the CPU
  // reference ones, ops/cpu/bf16_activations.h), so the blocks store their
  // GEMM/attention activations in bf16 on this device.
  explicit GuardedOps(GuardedDevice* dev, bool bf16_activations = false);
  GuardedOps(const GuardedOps&) = delete;  // the table points into this object
  GuardedOps& operator=(const GuardedOps&) = delete;
  const ops::DeviceOps& table() const { return table_; }
  ops::Backend backend() { return {&table_, dev_}; }
  // Ops run through any GuardedOps table, by every thread.
  static int64_t calls() { return calls_.load(); }

  // Wrap<&f>::Call: f's signature, returning what f returns.
  template <auto Fn>
  struct Wrap;
  template <typename R, typename... A, R (*Fn)(A...)>
  struct Wrap<Fn> {
    static R Call(A... a) {
      GuardedDevice* d = Current();
      int k = 0;
      (CheckArg(d, a, k++), ...);
      // Closes the arena and counts the call however Fn returns.
      struct Opened {
        GuardedDevice* d;
        ops::ScopedBackend cpu{{}};
        explicit Opened(GuardedDevice* dev) : d(dev) { d->Open(); }
        ~Opened() {
          d->Close();
          d->CountOp();
          ++calls_;
        }
      } opened(d);
      return Fn(a...);
    }
  };

 private:
  // Every pointer an op receives must be device memory: a host pointer
  // (a std::vector's data, a host tensor) would be invalid on a real GPU.
  // No op returns a value or writes through a host pointer: results (loss
  // sums, norms) stay in device memory until the step reads them back.
  template <typename X>
  static void CheckArg(GuardedDevice* d, X x, int k) {
    if constexpr (std::is_pointer_v<X>) {
      BRAID_CHECK_MSG(x == nullptr || d->Owns(x), "op argument %d is a host pointer, not device memory", k);
    }
  }
  // The calling thread's device: its backend's memory (GuardedOps::backend
  // pairs the table with its GuardedDevice).
  static GuardedDevice* Current() { return &CurrentGuardedDevice(); }
  static inline std::atomic<int64_t> calls_{0};
  GuardedDevice* dev_;
  ops::DeviceOps table_;
  ops::Bf16ActivationOps bf16_table_;
};

}  // namespace braid::testing_support
