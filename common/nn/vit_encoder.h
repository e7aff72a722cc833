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

class VitEncoder {
 public:
  VitEncoder(const EncoderConfig& cfg, int64_t llm_width);
  void Init(uint64_t seed);

  int64_t patches_per_image() const { return P_; }
  int64_t out_width() const { return llm_width_; }
  ParamBuffer& params() { return pb_; }
  const ParamBuffer& params() const { return pb_; }

  // images: n_img * S*S pixels in [0,1]. out: (n_img*P, llm_width).
  void Forward(const float* images, int64_t n_img, Tensor* out);
  // dout: (n_img*P, llm_width) for the images of the last Forward.
  void Backward(const float* dout);

 private:
  void Patchify(const float* images, int64_t n_img, float* patches) const;

  EncoderConfig cfg_;
  int64_t llm_width_, P_, pdim_, C_;
  ParamBuffer pb_;
  int patch_w_, patch_b_, pos_, lnf_w_, lnf_b_, proj_w_, proj_b_;
  std::vector<TransformerBlock> blocks_;

  // forward state
  int64_t n_img_ = 0;
  std::vector<int32_t> cu_, pos_ids_;
  Tensor patches_, lnf_, lnf_mean_, lnf_rstd_;
  std::vector<Tensor> xs_;  // block inputs; xs_[L] = last block output
  std::vector<BlockCache> caches_;
};

}  // namespace braid::nn
