// ParamBuffer: all parameters of one module in one flat array, and their
// gradients in another of the same size, carved into named views. The
// optimizer, the gradient-norm clip, the checkpoint and (later) the DP
// all-reduce each see one contiguous array.
//
// Device ranks (docs/GPU.md, step 3): the buffer is built and initialised on
// the host, then MoveToDevice() moves both arrays into the calling thread's
// device memory; param()/grad()/params_data()/grads_data() then return device
// pointers, and host code sees the values only through ParamsToHost() /
// GradsToHost() / ParamsFromHost(). params()/grads() (the host vectors) abort
// on a device buffer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/parallel/shard.h"
#include "common/tensor/tensor.h"

namespace braid {

struct ParamView {
  std::string name;             // e.g. "blocks.0.attn.qkv.weight"
  std::vector<int64_t> shape;   // this rank's (local) shape
  std::vector<int64_t> full_shape;  // the single-process model's (== shape unless sharded)
  parallel::ShardSpec shard;    // how shape is cut out of full_shape (tensor parallelism)
  int64_t offset = 0;           // in floats, into params()/grads()
  int64_t numel = 0;
  bool decay = true;            // AdamW weight decay applies (off for norms, biases)
};

class ParamBuffer {
 public:
  // Declares a parameter; call all Add()s before Allocate(). Returns its index.
  // `shape` is the full tensor's; with a shard, the view holds LocalShape(shape, shard).
  int Add(const std::string& name, std::vector<int64_t> shape, bool decay = true, parallel::ShardSpec shard = {});
  void Allocate();  // sizes params_ and grads_, zero-filled

  bool allocated() const { return allocated_; }
  int64_t size() const { return allocated_ ? total_ : 0; }
  const std::vector<ParamView>& views() const { return views_; }
  const ParamView& view(int index) const { return views_.at(static_cast<size_t>(index)); }
  // Index of a view by name, or -1.
  int Find(const std::string& name) const;

  float* param(int index) { return params_data() + views_.at(static_cast<size_t>(index)).offset; }
  const float* param(int index) const { return params_data() + views_.at(static_cast<size_t>(index)).offset; }
  float* grad(int index) { return grads_data() + views_.at(static_cast<size_t>(index)).offset; }

  // Host buffers only (abort on a device buffer).
  std::vector<float>& params();
  const std::vector<float>& params() const;
  std::vector<float>& grads();
  const std::vector<float>& grads() const;
  void ZeroGrads();

  // The flat arrays wherever they live.
  float* params_data() { return on_device() ? dev_params_.data() : params_.data(); }
  const float* params_data() const { return on_device() ? dev_params_.data() : params_.data(); }
  float* grads_data() { return on_device() ? dev_grads_.data() : grads_.data(); }
  const float* grads_data() const { return on_device() ? dev_grads_.data() : grads_.data(); }

  bool on_device() const { return dev_params_.on_device(); }
  // Moves params (values) and grads (zeroed) into the calling thread's device
  // memory (ops::ScopedBackend) and frees the host arrays.
  void MoveToDevice();
  std::vector<float> ParamsToHost() const;
  std::vector<float> GradsToHost() const;
  void ParamsFromHost(const std::vector<float>& values);

  // Gradient buckets: contiguous ranges of the flat buffer whose gradients a
  // backward pass finishes together (a transformer block's), so the DP
  // all-reduce of one bucket can run while the backward goes on. AddBucket
  // takes the bucket's first and last view (declared consecutively).
  struct Bucket {
    int64_t offset = 0, numel = 0;
  };
  int AddBucket(int first_view, int last_view);
  const std::vector<Bucket>& buckets() const { return buckets_; }
  // The module's backward calls this when bucket `b`'s gradients are final
  // for the pass; runs the hook (set by whoever wants to know, e.g. the
  // runtime during a step's last backward). Cheap when no hook is set.
  void BucketReady(int b) const {
    if (bucket_hook_) bucket_hook_(b);
  }
  void SetBucketReadyHook(std::function<void(int)> hook) { bucket_hook_ = std::move(hook); }

 private:
  std::vector<Bucket> buckets_;
  std::function<void(int)> bucket_hook_;
  std::vector<ParamView> views_;
  std::vector<float> params_;
  std::vector<float> grads_;
  Tensor dev_params_, dev_grads_;  // used once MoveToDevice() ran
  int64_t total_ = 0;
  bool allocated_ = false;
};

}  // namespace braid
