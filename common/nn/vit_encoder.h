// Image encoder: a ViT (patch embedding + learned positions + bidirectional
// transformer blocks + LayerNorm) and a linear projector into the LLM width.
// Every image is its own packed sequence of P = (S/patch)^2 tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "common/config/job_config.h"
#include "common/nn/transformer_block.h"
#include "common/tensor/param_buffer.h"
#include "common/tensor/tensor.h"

namespace braid::nn {

// Everything a Forward saves for its Backward. Several can be alive at once
// (one per microbatch in flight in a pipelined schedule).
struct VitEncoderActivations {
  int64_t n_img_ = 0;
  TensorT<int32_t> cu_, pos_ids_;  // in the thread's device memory, like every activation
  Tensor patches_, lnf_, lnf_mean_, lnf_rstd_;
  std::vector<Tensor> xs_;  // block inputs; xs_[L] = last block output
  std::vector<BlockCache> caches_;
};

class VitEncoder {
 public:
  using Activations = VitEncoderActivations;

 private:
 public:
  // tp: this rank's TP group (null or size 1: the whole model). Under TP only
  // the transformer blocks are sliced (TransformerBlock); the patch
  // embedding, norm and projector are replicated, so Forward's output is
  // whole on every rank. `tp` must outlive the encoder.
  VitEncoder(const EncoderConfig& cfg, int64_t llm_width, parallel::TpContext* tp = nullptr);
  void Init(uint64_t seed);

  int64_t patches_per_image() const { return P_; }
  int64_t out_width() const { return llm_width_; }
  ParamBuffer& params() { return pb_; }
  const ParamBuffer& params() const { return pb_; }

  // images: n_img * S*S pixels in [0,1]. out: (n_img*P, llm_width). With a
  // device backend on the thread, images and dout are device memory.
  // `acts` (optional) keeps this microbatch's activations for its Backward.
  void Forward(const float* images, int64_t n_img, Tensor* out, Activations* acts = nullptr);
  // dout: (n_img*P, llm_width) for the images of the last Forward.
  void Backward(const float* dout, Activations* acts = nullptr);

 private:
  void Patchify(const float* images, int64_t n_img, float* patches) const;

  EncoderConfig cfg_;
  int64_t llm_width_, P_, pdim_, C_;
  ParamBuffer pb_;
  int patch_w_, patch_b_, pos_, lnf_w_, lnf_b_, proj_w_, proj_b_;
  std::vector<TransformerBlock> blocks_;

  // Activations of the current microbatch (own_ unless the caller passed one).
  Activations own_;
  Activations* act_ = &own_;
  void Use(Activations* acts) {
    act_ = acts ? acts : &own_;
    if (act_->xs_.size() != blocks_.size() + 1) act_->xs_.resize(blocks_.size() + 1);
    if (act_->caches_.size() != blocks_.size()) act_->caches_.resize(blocks_.size());
  }
};

}  // namespace braid::nn
