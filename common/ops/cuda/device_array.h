// DeviceArray<T>: an owning device allocation, stream-ordered
// (cudaMallocAsync / cudaFreeAsync on the owning stream, from the device's
// default memory pool), plus checked host<->device copies. No managed memory.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "common/base/status.h"
#include "common/ops/cuda/check.h"

namespace braid::cuda {

template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  // `n` elements on `stream`, zero-filled when `zero`.
  static StatusOr<DeviceArray> Alloc(int64_t n, cudaStream_t stream, bool zero = true) {
    DeviceArray a;
    a.stream_ = stream;
    a.n_ = n;
    if (n > 0) {
      BRAID_CUDA_RETURN_IF_ERROR(cudaMallocAsync(reinterpret_cast<void**>(&a.p_), bytes_of(n), stream));
      if (zero) BRAID_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(a.p_, 0, bytes_of(n), stream));
    }
    return StatusOr<DeviceArray>(std::move(a));  // explicit: nvcc's front end does not move into StatusOr
  }
  ~DeviceArray() { reset(); }
  DeviceArray(DeviceArray&& o) noexcept { swap(o); }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) {
      reset();
      swap(o);
    }
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* data() { return p_; }
  const T* data() const { return p_; }
  int64_t size() const { return n_; }
  size_t bytes() const { return bytes_of(n_); }

  // Stream-ordered copies; the host side must stay alive until the stream
  // reaches them (CopyToHost's caller synchronises before reading).
  Status CopyFromHost(const T* src, int64_t n) {
    if (n > n_) return Status::OutOfRange("DeviceArray::CopyFromHost: " + std::to_string(n) + " > " + std::to_string(n_));
    BRAID_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(p_, src, bytes_of(n), cudaMemcpyHostToDevice, stream_));
    return Status::Ok();
  }
  Status CopyToHost(T* dst, int64_t n) const {
    if (n > n_) return Status::OutOfRange("DeviceArray::CopyToHost: " + std::to_string(n) + " > " + std::to_string(n_));
    BRAID_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, p_, bytes_of(n), cudaMemcpyDeviceToHost, stream_));
    return Status::Ok();
  }

 private:
  static size_t bytes_of(int64_t n) { return static_cast<size_t>(n) * sizeof(T); }
  void reset() {
    if (p_ != nullptr) cudaFreeAsync(p_, stream_);  // destructor: nowhere to report; the pool reclaims
    p_ = nullptr;
    n_ = 0;
  }
  void swap(DeviceArray& o) {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(stream_, o.stream_);
  }
  T* p_ = nullptr;
  int64_t n_ = 0;
  cudaStream_t stream_ = nullptr;
};

// Uploads a host vector to a fresh array on `stream`.
template <typename T>
StatusOr<DeviceArray<T>> Upload(const std::vector<T>& host, cudaStream_t stream) {
  ASSIGN_OR_RETURN(DeviceArray<T> a, DeviceArray<T>::Alloc(static_cast<int64_t>(host.size()), stream, false));
  RETURN_IF_ERROR(a.CopyFromHost(host.data(), static_cast<int64_t>(host.size())));
  return StatusOr<DeviceArray<T>>(std::move(a));
}

// Downloads `a` into a host vector, waiting for `a`'s stream (tests and
// checkpoints only: this synchronises).
template <typename T>
StatusOr<std::vector<T>> Download(const DeviceArray<T>& a, cudaStream_t stream) {
  std::vector<T> host(static_cast<size_t>(a.size()));
  RETURN_IF_ERROR(a.CopyToHost(host.data(), a.size()));
  BRAID_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
  return host;
}

}  // namespace braid::cuda
