#include "common/train/multimodal_model.h"

#include "common/base/check.h"
#include "common/base/rng.h"

namespace braid::train {

MultimodalModel::MultimodalModel(const ModelConfig& cfg) : cfg_(cfg) {
  encoder_ = std::make_unique<nn::VitEncoder>(cfg.encoder, cfg.llm.width);
  llm_ = std::make_unique<nn::Llm>(cfg.llm);
  generator_ = std::make_unique<nn::DitGenerator>(cfg.generator, cfg.llm.width);
}

void MultimodalModel::Init(uint64_t seed) {
  encoder_->Init(ModuleInitKey(seed, 1));
  llm_->Init(ModuleInitKey(seed, 2));
  generator_->Init(ModuleInitKey(seed, 3));
}

void MultimodalModel::ZeroGrads() {
  encoder_->params().ZeroGrads();
  llm_->params().ZeroGrads();
  generator_->params().ZeroGrads();
}

int64_t MultimodalModel::num_params() const {
  return encoder_->params().size() + llm_->params().size() + generator_->params().size();
}

void MultimodalModel::StepInto(const Microbatch& mb, float text_scale, float gen_scale, bool backward,
                               double* text_sum, double* gen_sum) {
  Tensor image_emb, gen_hidden, dimage_emb, dcond, images_stage, gen_images_stage;
  encoder_->Forward(StagedForOps(mb.images, &images_stage), mb.num_images, &image_emb);
  BRAID_CHECK(image_emb.numel() == int64_t(mb.llm.image_rows.size()) * llm_->width());
  llm_->Forward(mb.llm, image_emb.data(), &gen_hidden, text_sum, nullptr);
  if (mb.num_gen > 0)
    generator_->Forward(gen_hidden.data(), StagedForOps(mb.gen_images, &gen_images_stage), mb.gen_keys.data(),
                        mb.num_gen, gen_sum);
  if (!backward) return;
  if (mb.num_gen > 0) generator_->Backward(gen_scale, &dcond);
  llm_->Backward(text_scale, mb.num_gen > 0 ? dcond.data() : nullptr, &dimage_emb);
  if (mb.num_images > 0) encoder_->Backward(dimage_emb.data());
}

MicrobatchLoss MultimodalModel::Step(const Microbatch& mb, float text_scale, float gen_scale, bool backward) {
  StepScalars sums(2);
  StepInto(mb, text_scale, gen_scale, backward, sums.at(0), sums.at(1));
  const std::vector<double> v = sums.Read();
  MicrobatchLoss out;
  out.text_sum = v[0];
  out.gen_sum = v[1];
  out.text_count = mb.llm.supervised();
  out.gen_count = mb.num_gen;
  return out;
}

}  // namespace braid::train
