// Tensor: a contiguous row-major buffer with a shape. Ops take raw pointers
// and sizes (llm.c style: outputs first, then inputs, then sizes); Tensor
// owns activation memory and carries the shape for checks and I/O.
//
// Storage follows the calling thread's backend at allocation time
// (common/ops/backend.h, docs/GPU.md step 3): host memory when no device
// memory is set, otherwise the device's. data() is then a device pointer
// that only ops may touch; host code reads and writes a device tensor only
// through ToHost() / CopyFromHost() (checkpoints, reports, tests). vec() is
// host-only and aborts on a device tensor.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "common/base/check.h"
#include "common/ops/backend.h"

namespace braid {

template <typename T>
class TensorT {
 public:
  TensorT() = default;
  explicit TensorT(std::vector<int64_t> shape) { Resize(std::move(shape)); }
  static TensorT Zeros(std::vector<int64_t> shape) { return TensorT(std::move(shape)); }
  ~TensorT() { ReleaseDevice(); }

  TensorT(const TensorT& o) : shape_(o.shape_), numel_(o.numel_), host_(o.host_) {
    if (o.mem_ != nullptr) {
      AllocateDevice(o.mem_);
      o.mem_->CopyDeviceToDevice(dev_, o.dev_, bytes());
    }
  }
  TensorT& operator=(const TensorT& o) {
    if (this != &o) {
      TensorT tmp(o);
      Swap(tmp);
    }
    return *this;
  }
  TensorT(TensorT&& o) noexcept { Swap(o); }
  TensorT& operator=(TensorT&& o) noexcept {
    if (this != &o) {
      TensorT tmp(std::move(o));
      Swap(tmp);
    }
    return *this;
  }

  static int64_t NumelOf(const std::vector<int64_t>& s) {
    return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<int64_t>());
  }

  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.at(static_cast<size_t>(i)); }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return numel_; }
  bool on_device() const { return mem_ != nullptr; }
  T* data() { return mem_ != nullptr ? dev_ : host_.data(); }
  const T* data() const { return mem_ != nullptr ? dev_ : host_.data(); }
  // Host tensors only (through data(): on a device tensor this touches
  // device memory from the host, which the guarded test backend catches).
  T& operator[](int64_t i) { return data()[i]; }
  const T& operator[](int64_t i) const { return data()[i]; }
  std::vector<T>& vec() {
    BRAID_CHECK_MSG(mem_ == nullptr, "Tensor::vec() on a device tensor (use ToHost)");
    return host_;
  }
  const std::vector<T>& vec() const {
    BRAID_CHECK_MSG(mem_ == nullptr, "Tensor::vec() on a device tensor (use ToHost)");
    return host_;
  }

  // Reallocates to `shape` and zero-fills (activation buffers are reused
  // across microbatches of different packed lengths), in the calling
  // thread's memory: a tensor made on the host moves to the device when a
  // rank thread with a device backend resizes it. Same size and same memory:
  // the buffer is reused.
  void Resize(std::vector<int64_t> shape) {
    shape_ = std::move(shape);
    numel_ = NumelOf(shape_);
    ops::DeviceMemory* mem = ops::CurrentDeviceMemory();
    if (mem == nullptr) {
      ReleaseDevice();
      host_.assign(static_cast<size_t>(numel_), T(0));
      return;
    }
    host_.clear();
    host_.shrink_to_fit();
    if (mem_ == mem && dev_bytes_ == bytes()) {
      mem->Zero(dev_, bytes());
      return;
    }
    ReleaseDevice();
    AllocateDevice(mem);
  }
  void Zero() {
    if (mem_ != nullptr) {
      mem_->Zero(dev_, bytes());
    } else {
      std::fill(host_.begin(), host_.end(), T(0));
    }
  }

  // The contents on the host (a copy; waits for the device).
  std::vector<T> ToHost() const {
    if (mem_ == nullptr) return host_;
    std::vector<T> out(static_cast<size_t>(numel_));
    mem_->CopyToHost(out.data(), dev_, bytes());
    return out;
  }
  // Reallocates to the 1-D shape of `host` (in the calling thread's memory,
  // as Resize) and copies `host` in.
  void AssignFromHost(const std::vector<T>& host) {
    Resize({static_cast<int64_t>(host.size())});
    if (!host.empty()) CopyFromHost(host.data(), numel_);
  }
  // Overwrites the first `n` elements from host memory.
  void CopyFromHost(const T* src, int64_t n) {
    BRAID_CHECK_MSG(n <= numel_, "Tensor::CopyFromHost: %lld > numel %lld", static_cast<long long>(n),
                    static_cast<long long>(numel_));
    if (mem_ != nullptr) {
      mem_->CopyFromHost(dev_, src, static_cast<size_t>(n) * sizeof(T));
    } else {
      std::copy(src, src + n, host_.begin());
    }
  }

 private:
  size_t bytes() const { return static_cast<size_t>(numel_) * sizeof(T); }
  void AllocateDevice(ops::DeviceMemory* mem) {
    mem_ = mem;
    dev_bytes_ = bytes();
    dev_ = static_cast<T*>(mem->Allocate(dev_bytes_));
  }
  void ReleaseDevice() {
    if (mem_ != nullptr && dev_ != nullptr) mem_->Free(dev_, dev_bytes_);
    mem_ = nullptr;
    dev_ = nullptr;
    dev_bytes_ = 0;
  }
  void Swap(TensorT& o) noexcept {
    std::swap(shape_, o.shape_);
    std::swap(numel_, o.numel_);
    std::swap(host_, o.host_);
    std::swap(mem_, o.mem_);
    std::swap(dev_, o.dev_);
    std::swap(dev_bytes_, o.dev_bytes_);
  }

  std::vector<int64_t> shape_;
  int64_t numel_ = 0;
  std::vector<T> host_;
  ops::DeviceMemory* mem_ = nullptr;  // non-null: the data lives in this device memory
  T* dev_ = nullptr;
  size_t dev_bytes_ = 0;
};

using Tensor = TensorT<float>;

// Host data where an op can read it: the vector itself when the calling
// thread has no device memory (no copy), else a copy in `stage`.
template <typename T>
const T* StagedForOps(const std::vector<T>& host, TensorT<T>* stage) {
  if (ops::CurrentDeviceMemory() == nullptr) return host.data();
  stage->AssignFromHost(host);
  return stage->data();
}

std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace braid
