#include "common/train/training_data.h"

#include "common/data/fortunes.h"
#include "common/train/microbatch.h"

namespace braid::train {

MixConfig MixConfigFor(const JobConfig& cfg) {
  MixConfig m;
  m.caption = cfg.data.mix.caption;
  m.interleaved = cfg.data.mix.interleaved;
  m.generation = cfg.data.mix.generation;
  m.text = cfg.data.mix.text;
  m.max_images = cfg.data.max_images;
  m.max_text_bytes = cfg.data.max_text_bytes;
  const int g = cfg.model.encoder.image_size / cfg.model.encoder.patch;
  m.patches_per_image = g * g;
  m.gen_slots = cfg.model.generator.gen_slots;
  m.image_size = cfg.model.encoder.image_size;
  m.seed = cfg.seed;
  return m;
}

StatusOr<std::unique_ptr<TrainingData>> TrainingData::Load(const JobConfig& cfg) {
  auto d = std::unique_ptr<TrainingData>(new TrainingData());
  d->cfg_ = cfg;
  d->mix_ = MixConfigFor(cfg);
  ASSIGN_OR_RETURN(d->fm_, LoadFashionMnist(cfg.data.fashion_mnist));
  if (cfg.data.mix.text > 0 || cfg.data.mix.interleaved > 0) {
    ASSIGN_OR_RETURN(d->fortunes_, LoadFortunes(cfg.data.fortunes, size_t(cfg.data.max_text_bytes)));
  }
  if (!cfg.data.manifest.empty()) {
    ASSIGN_OR_RETURN(d->manifest_, LoadJsonlManifest(cfg.data.manifest));
    if (d->manifest_.empty()) return Status::InvalidArgument("data.manifest: " + cfg.data.manifest + " has no samples");
    d->epoch_samples_ = int64_t(d->manifest_.size());
    // Decode every sample once up front, so a missing or corrupt image is
    // reported (naming the file) before anything is written, not mid-run.
    for (const ManifestSample& m : d->manifest_) {
      auto s = SampleFromManifest(m, d->mix_);
      if (!s.ok()) return s.status();
    }
  } else {
    d->epoch_samples_ = cfg.data.epoch_samples;
  }
  d->mixer_ = std::make_unique<TaskMixer>(&d->fm_, &d->fortunes_, d->mix_);
  return d;
}

StatusOr<Sample> TrainingData::Make(int64_t id) const {
  Sample s;
  if (!manifest_.empty()) {
    // Manifest jobs: the id is the position in the file; the sample keeps its own id.
    ASSIGN_OR_RETURN(s, SampleFromManifest(manifest_[size_t(id)], mix_));
  } else {
    s = mixer_->Make(id);
  }
  TruncateSample(&s, cfg_.model.llm.max_seq, mix_.patches_per_image, mix_.gen_slots);
  return s;
}

}  // namespace braid::train
