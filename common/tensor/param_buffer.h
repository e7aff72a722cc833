// ParamBuffer: all parameters of one module in one flat array, and their
// gradients in another of the same size, carved into named views. The
// optimizer, the gradient-norm clip, the checkpoint and (later) the DP
// all-reduce each see one contiguous array.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/parallel/shard.h"

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
  int64_t size() const { return static_cast<int64_t>(params_.size()); }
  const std::vector<ParamView>& views() const { return views_; }
  const ParamView& view(int index) const { return views_.at(static_cast<size_t>(index)); }
  // Index of a view by name, or -1.
  int Find(const std::string& name) const;

  float* param(int index) { return params_.data() + views_.at(static_cast<size_t>(index)).offset; }
  const float* param(int index) const { return params_.data() + views_.at(static_cast<size_t>(index)).offset; }
  float* grad(int index) { return grads_.data() + views_.at(static_cast<size_t>(index)).offset; }

  std::vector<float>& params() { return params_; }
  const std::vector<float>& params() const { return params_; }
  std::vector<float>& grads() { return grads_; }
  const std::vector<float>& grads() const { return grads_; }
  void ZeroGrads();

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
  int64_t total_ = 0;
  bool allocated_ = false;
};

}  // namespace braid
