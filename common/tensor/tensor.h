// Tensor: a contiguous row-major buffer with a shape. Ops take raw pointers
// and sizes (llm.c style: outputs first, then inputs, then sizes); Tensor
// owns activation memory and carries the shape for checks and I/O.
#pragma once

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "common/base/check.h"

namespace braid {

template <typename T>
class TensorT {
 public:
  TensorT() = default;
  explicit TensorT(std::vector<int64_t> shape) : shape_(std::move(shape)), data_(NumelOf(shape_), T(0)) {}
  static TensorT Zeros(std::vector<int64_t> shape) { return TensorT(std::move(shape)); }

  static int64_t NumelOf(const std::vector<int64_t>& s) {
    return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<int64_t>());
  }

  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_.at(static_cast<size_t>(i)); }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return static_cast<int64_t>(data_.size()); }
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  T& operator[](int64_t i) { return data_[static_cast<size_t>(i)]; }
  const T& operator[](int64_t i) const { return data_[static_cast<size_t>(i)]; }
  std::vector<T>& vec() { return data_; }
  const std::vector<T>& vec() const { return data_; }

  // Reallocates to `shape` and zero-fills (activation buffers are reused
  // across microbatches of different packed lengths).
  void Resize(std::vector<int64_t> shape) {
    shape_ = std::move(shape);
    data_.assign(static_cast<size_t>(NumelOf(shape_)), T(0));
  }
  void Zero() { std::fill(data_.begin(), data_.end(), T(0)); }

 private:
  std::vector<int64_t> shape_;
  std::vector<T> data_;
};

using Tensor = TensorT<float>;

std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace braid
