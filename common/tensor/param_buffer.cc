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

void ParamBuffer::ZeroGrads() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

}  // namespace braid
