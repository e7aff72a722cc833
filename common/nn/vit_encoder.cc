#include "common/nn/vit_encoder.h"

#include <vector>

#include "common/nn/init.h"
#include "common/ops/cpu/embedding.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/norm.h"
#include "common/ops/cpu/patch.h"

namespace braid::nn {
namespace {
// Fashion-MNIST pixel statistics: inputs are standardised before patching.
constexpr float kPixelMean = 0.286f, kPixelStd = 0.353f;
}  // namespace

VitEncoder::VitEncoder(const EncoderConfig& cfg, int64_t llm_width, parallel::TpContext* tp)
    : cfg_(cfg), llm_width_(llm_width) {
  const int64_t g = cfg.image_size / cfg.patch;
  P_ = g * g;
  pdim_ = int64_t(cfg.patch) * cfg.patch * cfg.channels;
  C_ = cfg.width;
  patch_w_ = pb_.Add("patch_embed.weight", {C_, pdim_});
  patch_b_ = pb_.Add("patch_embed.bias", {C_}, false);
  pos_ = pb_.Add("pos_embed", {P_, C_}, false);
  BlockConfig bc{C_, cfg.heads, int64_t(cfg.mlp_ratio) * C_, false, false, false, tp ? tp->size() : 1,
                 tp ? tp->rank() : 0};
  blocks_.resize(size_t(cfg.layers));
  for (int l = 0; l < cfg.layers; ++l) blocks_[size_t(l)].Declare(pb_, "blocks." + std::to_string(l) + ".", bc, tp);
  lnf_w_ = pb_.Add("norm_f.weight", {C_}, false);
  lnf_b_ = pb_.Add("norm_f.bias", {C_}, false);
  proj_w_ = pb_.Add("projector.weight", {llm_width_, C_});
  proj_b_ = pb_.Add("projector.bias", {llm_width_}, false);
  pb_.Allocate();
}

void VitEncoder::Init(uint64_t seed) {
  InitNormal(pb_, patch_w_, seed, 0.02f);
  InitNormal(pb_, pos_, seed, 0.02f);
  for (auto& b : blocks_) b.Init(pb_, seed, cfg_.layers);
  InitConstant(pb_, lnf_w_, 1.0f);
  InitNormal(pb_, proj_w_, seed, 0.02f);
}

void VitEncoder::Patchify(const float* images, int64_t n_img, float* patches) const {
  ops::patchify(patches, images, n_img, cfg_.image_size, cfg_.patch, kPixelMean, kPixelStd);
}

void VitEncoder::Forward(const float* images, int64_t n_img, Tensor* out, Activations* acts) {
  Use(acts);
  act_->n_img_ = n_img;
  const int64_t N = n_img * P_;
  // Sequence starts and position ids, built on the host and copied to the
  // tensors (device memory when the thread has a device backend).
  std::vector<int32_t> cu(static_cast<size_t>(n_img + 1)), pos_ids(static_cast<size_t>(N));
  for (int64_t i = 0; i <= n_img; ++i) cu[size_t(i)] = int32_t(i * P_);
  for (int64_t n = 0; n < N; ++n) pos_ids[size_t(n)] = int32_t(n % P_);
  act_->cu_.AssignFromHost(cu);
  act_->pos_ids_.AssignFromHost(pos_ids);
  act_->patches_.Resize({N, pdim_});
  Patchify(images, n_img, act_->patches_.data());
  act_->xs_[0].Resize({N, C_});
  ops::matmul_forward(act_->xs_[0].data(), act_->patches_.data(), pb_.param(patch_w_), pb_.param(patch_b_), N, pdim_, C_);
  ops::add_positions_forward(act_->xs_[0].data(), act_->pos_ids_.data(), pb_.param(pos_), N, C_);
  for (size_t l = 0; l < blocks_.size(); ++l) {
    act_->xs_[l + 1].Resize({N, C_});
    blocks_[l].Forward(act_->caches_[l], pb_, act_->xs_[l + 1].data(), act_->xs_[l].data(), N, act_->cu_.data(),
                       int(n_img), int(P_));
  }
  act_->lnf_.Resize({N, C_});
  act_->lnf_mean_.Resize({N});
  act_->lnf_rstd_.Resize({N});
  ops::layernorm_forward(act_->lnf_.data(), act_->lnf_mean_.data(), act_->lnf_rstd_.data(), act_->xs_.back().data(), pb_.param(lnf_w_),
                         pb_.param(lnf_b_), N, C_);
  out->Resize({N, llm_width_});
  ops::matmul_forward(out->data(), act_->lnf_.data(), pb_.param(proj_w_), pb_.param(proj_b_), N, C_, llm_width_);
}

void VitEncoder::Backward(const float* dout, Activations* acts) {
  Use(acts);
  const int64_t N = act_->n_img_ * P_;
  if (N == 0) return;
  Tensor dlnf({N, C_}), dx({N, C_});
  ops::matmul_backward(dlnf.data(), pb_.grad(proj_w_), pb_.grad(proj_b_), dout, act_->lnf_.data(), pb_.param(proj_w_), N,
                       C_, llm_width_);
  ops::layernorm_backward(dx.data(), pb_.grad(lnf_w_), pb_.grad(lnf_b_), dlnf.data(), act_->xs_.back().data(),
                          pb_.param(lnf_w_), act_->lnf_mean_.data(), act_->lnf_rstd_.data(), N, C_);
  for (size_t l = blocks_.size(); l-- > 0;) {
    Tensor dprev({N, C_});
    blocks_[l].Backward(act_->caches_[l], pb_, dprev.data(), dx.data(), act_->xs_[l].data(), N, act_->cu_.data(),
                        int(act_->n_img_), int(P_));
    dx = std::move(dprev);
  }
  ops::add_positions_backward(pb_.grad(pos_), dx.data(), act_->pos_ids_.data(), N, C_);
  ops::matmul_backward<float>(nullptr, pb_.grad(patch_w_), pb_.grad(patch_b_), dx.data(), act_->patches_.data(),
                              pb_.param(patch_w_), N, pdim_, C_);
}

}  // namespace braid::nn
