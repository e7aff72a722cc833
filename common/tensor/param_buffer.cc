#include "common/tensor/param_buffer.h"

#include <algorithm>
#include <sstream>

#include "common/base/check.h"
#include "common/tensor/tensor.h"

namespace braid {

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? "," : "") << shape[i];
  os << "]";
  return os.str();
}

int ParamBuffer::Add(const std::string& name, std::vector<int64_t> shape, bool decay, parallel::ShardSpec shard) {
  BRAID_CHECK(!allocated_);
  BRAID_CHECK_MSG(Find(name) < 0, "duplicate parameter %s", name.c_str());
  ParamView v;
  v.name = name;
  v.shape = parallel::LocalShape(shape, shard);
  v.numel = TensorT<float>::NumelOf(v.shape);
  v.full_shape = std::move(shape);
  v.shard = shard;
  v.offset = total_;
  v.decay = decay;
  total_ += v.numel;
  views_.push_back(std::move(v));
  return static_cast<int>(views_.size()) - 1;
}

int ParamBuffer::AddBucket(int first_view, int last_view) {
  BRAID_CHECK(first_view >= 0 && first_view <= last_view && last_view < int(views_.size()));
  const ParamView& a = views_[size_t(first_view)];
  const ParamView& b = views_[size_t(last_view)];
  buckets_.push_back({a.offset, b.offset + b.numel - a.offset});
  return int(buckets_.size()) - 1;
}

void ParamBuffer::Allocate() {
  BRAID_CHECK(!allocated_);
  params_.assign(static_cast<size_t>(total_), 0.0f);
  grads_.assign(static_cast<size_t>(total_), 0.0f);
  allocated_ = true;
}

int ParamBuffer::Find(const std::string& name) const {
  for (size_t i = 0; i < views_.size(); ++i)
    if (views_[i].name == name) return static_cast<int>(i);
  return -1;
}

void ParamBuffer::ZeroGrads() {
  if (on_device()) {
    dev_grads_.Zero();
  } else {
    std::fill(grads_.begin(), grads_.end(), 0.0f);
  }
}

std::vector<float>& ParamBuffer::params() {
  BRAID_CHECK_MSG(!on_device(), "ParamBuffer::params() on a device buffer (use ParamsToHost)");
  return params_;
}
const std::vector<float>& ParamBuffer::params() const {
  BRAID_CHECK_MSG(!on_device(), "ParamBuffer::params() on a device buffer (use ParamsToHost)");
  return params_;
}
std::vector<float>& ParamBuffer::grads() {
  BRAID_CHECK_MSG(!on_device(), "ParamBuffer::grads() on a device buffer (use GradsToHost)");
  return grads_;
}
const std::vector<float>& ParamBuffer::grads() const {
  BRAID_CHECK_MSG(!on_device(), "ParamBuffer::grads() on a device buffer (use GradsToHost)");
  return grads_;
}

void ParamBuffer::MoveToDevice() {
  BRAID_CHECK(allocated_ && !on_device());
  BRAID_CHECK_MSG(ops::CurrentDeviceMemory() != nullptr, "ParamBuffer::MoveToDevice with no device backend set");
  dev_params_.Resize({total_});
  dev_grads_.Resize({total_});
  dev_params_.CopyFromHost(params_.data(), total_);
  params_ = {};
  grads_ = {};
}

std::vector<float> ParamBuffer::ParamsToHost() const { return on_device() ? dev_params_.ToHost() : params_; }
std::vector<float> ParamBuffer::GradsToHost() const { return on_device() ? dev_grads_.ToHost() : grads_; }

void ParamBuffer::ParamsFromHost(const std::vector<float>& values) {
  BRAID_CHECK(static_cast<int64_t>(values.size()) == total_);
  if (on_device()) {
    dev_params_.CopyFromHost(values.data(), total_);
  } else {
    params_ = values;
  }
}

}  // namespace braid
