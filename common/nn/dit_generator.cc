#include "common/nn/dit_generator.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/base/rng.h"
#include "common/nn/init.h"
#include "common/ops/cpu/activation.h"
#include "common/ops/cpu/diffusion.h"
#include "common/ops/cpu/embedding.h"
#include "common/ops/cpu/loss.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/norm.h"
#include "common/ops/cpu/patch.h"
#include "common/ops/cpu/rows.h"

namespace braid::nn {

DitGenerator::DitGenerator(const GeneratorConfig& cfg, int64_t llm_width)
    : cfg_(cfg), llm_width_(llm_width), schedule_(cfg.diffusion_steps) {
  const int64_t g = cfg.image_size / cfg.patch;
  C_ = cfg.width;
  P_ = g * g;
  pdim_ = int64_t(cfg.patch) * cfg.patch;
  K_ = cfg.gen_slots;
  L_ = K_ + 1 + P_;
  cond_w_ = pb_.Add("cond_proj.weight", {C_, llm_width_});
  cond_b_ = pb_.Add("cond_proj.bias", {C_}, false);
  t1_w_ = pb_.Add("t_embed.fc1.weight", {C_, C_});
  t1_b_ = pb_.Add("t_embed.fc1.bias", {C_}, false);
  t2_w_ = pb_.Add("t_embed.fc2.weight", {C_, C_});
  t2_b_ = pb_.Add("t_embed.fc2.bias", {C_}, false);
  in_w_ = pb_.Add("patch_in.weight", {C_, pdim_});
  in_b_ = pb_.Add("patch_in.bias", {C_}, false);
  pos_ = pb_.Add("pos_embed", {L_, C_}, false);
  BlockConfig bc{C_, cfg.heads, int64_t(cfg.mlp_ratio) * C_, false, false, false};
  blocks_.resize(size_t(cfg.layers));
  for (int l = 0; l < cfg.layers; ++l) blocks_[size_t(l)].Declare(pb_, "blocks." + std::to_string(l) + ".", bc);
  lnf_w_ = pb_.Add("norm_f.weight", {C_}, false);
  lnf_b_ = pb_.Add("norm_f.bias", {C_}, false);
  out_w_ = pb_.Add("patch_out.weight", {pdim_, C_});
  out_b_ = pb_.Add("patch_out.bias", {pdim_}, false);
  pb_.Allocate();
}

void DitGenerator::Init(uint64_t seed) {
  InitNormal(pb_, cond_w_, seed, 0.02f);
  InitNormal(pb_, t1_w_, seed, 0.02f);
  InitNormal(pb_, t2_w_, seed, 0.02f);
  InitNormal(pb_, in_w_, seed, 0.02f);
  InitNormal(pb_, pos_, seed, 0.02f);
  for (auto& b : blocks_) b.Init(pb_, seed, cfg_.layers);
  InitConstant(pb_, lnf_w_, 1.0f);
  // patch_out starts at zero (DiT): the initial prediction is 0, loss ~ 1.
}

namespace {
// (n, S*S) image <-> (n*P, patch*patch) rows, no scaling.
void Patchify(const float* img, int64_t n, int64_t S, int64_t p, float* out) { ops::patchify(out, img, n, S, p); }
void Unpatchify(const float* rows, int64_t n, int64_t S, int64_t p, float* img) {
  ops::unpatchify(img, rows, n, S, p);
}
}  // namespace

void DitGenerator::RunNetwork(const float* cond, const float* xt, const int* t, int64_t n, Tensor* eps_pred) {
  act_->n_ = n;
  const int64_t N = n * L_, S = cfg_.image_size;
  {
    std::vector<int32_t> cu(static_cast<size_t>(n + 1)), pos_ids(static_cast<size_t>(N)), ts(t, t + n);
    std::vector<int32_t> cond_at, t_at, patch_at;
    for (int64_t i = 0; i <= n; ++i) cu[size_t(i)] = int32_t(i * L_);
    for (int64_t r = 0; r < N; ++r) pos_ids[size_t(r)] = int32_t(r % L_);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t k = 0; k < K_; ++k) cond_at.push_back(int32_t(i * L_ + k));
      t_at.push_back(int32_t(i * L_ + K_));
      for (int64_t p = 0; p < P_; ++p) patch_at.push_back(int32_t(i * L_ + K_ + 1 + p));
    }
    act_->cu_.AssignFromHost(cu);
    act_->pos_ids_.AssignFromHost(pos_ids);
    act_->t_.AssignFromHost(ts);
    act_->cond_at_.AssignFromHost(cond_at);
    act_->t_at_.AssignFromHost(t_at);
    act_->patch_at_.AssignFromHost(patch_at);
  }
  act_->xs_[0].Resize({N, C_});
  float* x0 = act_->xs_[0].data();

  // conditioning tokens
  act_->cond_in_.Resize({n * K_, llm_width_});
  ops::copy(act_->cond_in_.data(), cond, n * K_ * llm_width_);
  Tensor cproj({n * K_, C_});
  ops::matmul_forward(cproj.data(), cond, pb_.param(cond_w_), pb_.param(cond_b_), n * K_, llm_width_, C_);
  // timestep token: sinusoidal features -> fc1 -> GELU -> fc2
  act_->tfreq_.Resize({n, C_});
  ops::timestep_features(act_->tfreq_.data(), act_->t_.data(), n, C_);
  act_->th_.Resize({n, C_});
  act_->th_act_.Resize({n, C_});
  Tensor temb({n, C_});
  ops::matmul_forward(act_->th_.data(), act_->tfreq_.data(), pb_.param(t1_w_), pb_.param(t1_b_), n, C_, C_);
  ops::gelu_forward(act_->th_act_.data(), act_->th_.data(), n * C_);
  ops::matmul_forward(temb.data(), act_->th_act_.data(), pb_.param(t2_w_), pb_.param(t2_b_), n, C_, C_);
  // patch tokens
  act_->patches_.Resize({n * P_, pdim_});
  Patchify(xt, n, S, cfg_.patch, act_->patches_.data());
  Tensor pin({n * P_, C_});
  ops::matmul_forward(pin.data(), act_->patches_.data(), pb_.param(in_w_), pb_.param(in_b_), n * P_, pdim_, C_);
  // assemble [cond | t | patches] per target
  ops::scatter_rows(x0, cproj.data(), act_->cond_at_.data(), n * K_, C_);
  ops::scatter_rows(x0, temb.data(), act_->t_at_.data(), n, C_);
  ops::scatter_rows(x0, pin.data(), act_->patch_at_.data(), n * P_, C_);
  ops::add_positions_forward(x0, act_->pos_ids_.data(), pb_.param(pos_), N, C_);
  for (size_t l = 0; l < blocks_.size(); ++l) {
    act_->xs_[l + 1].Resize({N, C_});
    blocks_[l].Forward(act_->caches_[l], pb_, act_->xs_[l + 1].data(), act_->xs_[l].data(), N, act_->cu_.data(), int(n),
                       int(L_));
  }
  act_->lnf_.Resize({N, C_});
  act_->lnf_mean_.Resize({N});
  act_->lnf_rstd_.Resize({N});
  ops::layernorm_forward(act_->lnf_.data(), act_->lnf_mean_.data(), act_->lnf_rstd_.data(), act_->xs_.back().data(), pb_.param(lnf_w_),
                         pb_.param(lnf_b_), N, C_);
  act_->patch_rows_.Resize({n * P_, C_});
  ops::gather_rows(act_->patch_rows_.data(), act_->lnf_.data(), act_->patch_at_.data(), n * P_, C_);
  Tensor out({n * P_, pdim_});
  ops::matmul_forward(out.data(), act_->patch_rows_.data(), pb_.param(out_w_), pb_.param(out_b_), n * P_, C_, pdim_);
  eps_pred->Resize({n, S * S});
  Unpatchify(out.data(), n, S, cfg_.patch, eps_pred->data());
}

void DitGenerator::BackwardNetwork(const float* deps, Tensor* dcond) {
  const int64_t n = act_->n_, N = n * L_, S = cfg_.image_size;
  Tensor dout({n * P_, pdim_}), dpatch_rows({n * P_, C_}), dlnf({N, C_}), dx({N, C_});
  Patchify(deps, n, S, cfg_.patch, dout.data());
  ops::matmul_backward(dpatch_rows.data(), pb_.grad(out_w_), pb_.grad(out_b_), dout.data(), act_->patch_rows_.data(),
                       pb_.param(out_w_), n * P_, C_, pdim_);
  ops::scatter_rows(dlnf.data(), dpatch_rows.data(), act_->patch_at_.data(), n * P_, C_);
  ops::layernorm_backward(dx.data(), pb_.grad(lnf_w_), pb_.grad(lnf_b_), dlnf.data(), act_->xs_.back().data(),
                          pb_.param(lnf_w_), act_->lnf_mean_.data(), act_->lnf_rstd_.data(), N, C_);
  for (size_t l = blocks_.size(); l-- > 0;) {
    Tensor dprev({N, C_});
    blocks_[l].Backward(act_->caches_[l], pb_, dprev.data(), dx.data(), act_->xs_[l].data(), N, act_->cu_.data(),
                        int(n), int(L_));
    dx = std::move(dprev);
  }
  ops::add_positions_backward(pb_.grad(pos_), dx.data(), act_->pos_ids_.data(), N, C_);
  Tensor dcproj({n * K_, C_}), dtemb({n, C_}), dpin({n * P_, C_});
  ops::gather_rows(dcproj.data(), dx.data(), act_->cond_at_.data(), n * K_, C_);
  ops::gather_rows(dtemb.data(), dx.data(), act_->t_at_.data(), n, C_);
  ops::gather_rows(dpin.data(), dx.data(), act_->patch_at_.data(), n * P_, C_);
  dcond->Resize({n * K_, llm_width_});
  ops::matmul_backward(dcond->data(), pb_.grad(cond_w_), pb_.grad(cond_b_), dcproj.data(), act_->cond_in_.data(),
                       pb_.param(cond_w_), n * K_, llm_width_, C_);
  Tensor dth_act({n, C_}), dth({n, C_});
  ops::matmul_backward(dth_act.data(), pb_.grad(t2_w_), pb_.grad(t2_b_), dtemb.data(), act_->th_act_.data(),
                       pb_.param(t2_w_), n, C_, C_);
  ops::gelu_backward(dth.data(), dth_act.data(), act_->th_.data(), n * C_);
  ops::matmul_backward<float>(nullptr, pb_.grad(t1_w_), pb_.grad(t1_b_), dth.data(), act_->tfreq_.data(), pb_.param(t1_w_),
                              n, C_, C_);
  ops::matmul_backward<float>(nullptr, pb_.grad(in_w_), pb_.grad(in_b_), dpin.data(), act_->patches_.data(),
                              pb_.param(in_w_), n * P_, pdim_, C_);
}

void DitGenerator::Forward(const float* cond, const float* images, const uint64_t* keys, int64_t n,
                           double* loss_sum, Activations* acts) {
  Use(acts);
  const int64_t pix = pixels(), R = cfg_.noise_samples, m = n * R;
  act_->targets_ = n;
  // Per draw (on the host, O(m)): its key, the timestep it draws first, and
  // the noising coefficients. The noise itself is drawn by the op, on the
  // device when there is one (the same keyed stream).
  std::vector<int> ts(static_cast<size_t>(m));
  std::vector<uint64_t> row_keys(static_cast<size_t>(m));
  std::vector<float> coef(static_cast<size_t>(2 * m));
  std::vector<int32_t> cond_src;
  cond_src.reserve(static_cast<size_t>(m * K_));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < R; ++r) {
      const int64_t row = i * R + r;
      const uint64_t key = R == 1 ? keys[i] : HashKey(keys[i], uint64_t(r));
      KeyedRng rng(key);
      const int t = int(rng.Below(uint64_t(schedule_.steps())));
      ts[size_t(row)] = t;
      row_keys[size_t(row)] = key;
      const double ab = schedule_.alpha_bar(t);
      coef[size_t(2 * row)] = float(std::sqrt(ab));
      coef[size_t(2 * row + 1)] = float(std::sqrt(1.0 - ab));
      for (int64_t k = 0; k < K_; ++k) cond_src.push_back(int32_t(i * K_ + k));
    }
  TensorT<uint64_t> keys_t({m});
  keys_t.CopyFromHost(row_keys.data(), m);
  Tensor coef_t({m, 2});
  coef_t.CopyFromHost(coef.data(), 2 * m);
  TensorT<int32_t> cond_src_t({m * K_});
  cond_src_t.CopyFromHost(cond_src.data(), m * K_);
  act_->eps_true_.Resize({m, pix});
  Tensor xt({m, pix}), cond_rep({m * K_, llm_width_});
  ops::diffusion_noise(xt.data(), act_->eps_true_.data(), images, keys_t.data(), coef_t.data(), m, R, pix);
  // The R draws of a target share its conditioning.
  ops::gather_rows(cond_rep.data(), cond, cond_src_t.data(), m * K_, llm_width_);
  RunNetwork(cond_rep.data(), xt.data(), ts.data(), m, &act_->eps_pred_);
  if (loss_sum != nullptr)
    ops::mse_rows_forward(loss_sum, act_->eps_pred_.data(), act_->eps_true_.data(), m, pix, double(R));
}

void DitGenerator::Backward(float scale, Tensor* dcond, Activations* acts) {
  Use(acts);
  const int64_t pix = pixels(), R = cfg_.noise_samples, m = act_->n_, n = act_->targets_;
  Tensor deps({m, pix}), dcond_rep;
  ops::mse_backward(deps.data(), act_->eps_pred_.data(), act_->eps_true_.data(), m * pix, scale / float(pix * R));
  BackwardNetwork(deps.data(), &dcond_rep);
  // The conditioning was shared by the R draws of a target: sum their gradients.
  dcond->Resize({n * K_, llm_width_});
  const int64_t per = K_ * llm_width_;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < R; ++r) ops::accumulate(dcond->data() + i * per, dcond_rep.data() + (i * R + r) * per, per);
}

std::vector<float> DitGenerator::PredictNoise(const float* cond, const float* xt, const int* t, int64_t n) {
  Use(nullptr);
  Tensor eps;
  RunNetwork(cond, xt, t, n, &eps);
  return eps.ToHost();
}

std::vector<float> DitGenerator::Sample(const float* cond, int64_t n, uint64_t seed, int steps) {
  Use(nullptr);
  const int64_t pix = pixels();
  Tensor x({n, pix});
  ops::keyed_normal(x.data(), HashKey(seed, 0x5a3d1e), n * pix);
  std::vector<int> ts = schedule_.SamplingTimesteps(steps);
  Tensor eps;
  std::vector<int> tv(static_cast<size_t>(n));
  for (size_t s = 0; s < ts.size(); ++s) {
    const int t = ts[s];
    std::fill(tv.begin(), tv.end(), t);
    RunNetwork(cond, x.data(), tv.data(), n, &eps);
    const double ab = schedule_.alpha_bar(t);
    const double ab_prev = s + 1 < ts.size() ? schedule_.alpha_bar(ts[s + 1]) : 1.0;
    DdimUpdate(x.data(), eps.data(), n * pix, ab, ab_prev);
  }
  ops::diffusion_to_pixels(x.data(), n * pix);
  return x.ToHost();
}

}  // namespace braid::nn
