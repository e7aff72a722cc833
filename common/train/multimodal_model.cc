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

MicrobatchLoss MultimodalModel::Step(const Microbatch& mb, float text_scale, float gen_scale, bool backward) {
  MicrobatchLoss out;
  Tensor image_emb, gen_hidden, dimage_emb, dcond, images_stage, gen_images_stage;
  encoder_->Forward(StagedForOps(mb.images, &images_stage), mb.num_images, &image_emb);
  BRAID_CHECK(image_emb.numel() == int64_t(mb.llm.image_rows.size()) * llm_->width());
  out.text_sum = llm_->Forward(mb.llm, image_emb.data(), &gen_hidden, &out.text_count);
  out.gen_count = mb.num_gen;
  if (mb.num_gen > 0)
    out.gen_sum = generator_->Forward(gen_hidden.data(), StagedForOps(mb.gen_images, &gen_images_stage), mb.gen_keys.data(),
                                      mb.num_gen);
  if (!backward) return out;
  if (mb.num_gen > 0) generator_->Backward(gen_scale, &dcond);
  llm_->Backward(text_scale, mb.num_gen > 0 ? dcond.data() : nullptr, &dimage_emb);
  if (mb.num_images > 0) encoder_->Backward(dimage_emb.data());
  return out;
}

}  // namespace braid::train
