#include "common/train/microbatch.h"

#include "common/base/check.h"
#include "common/base/rng.h"
#include "common/data/tokenizer.h"

namespace braid::train {

void TruncateSample(Sample* s, int max_seq, int patches_per_image, int gen_slots) {
  if (static_cast<int64_t>(s->tokens.size()) <= max_seq) return;
  // Find the last cut point <= max_seq that is outside every block.
  int64_t cut = max_seq, i = 0, images = 0, gens = 0, safe_images = 0, safe_gens = 0, safe_cut = 0;
  const int64_t n = static_cast<int64_t>(s->tokens.size());
  while (i < n && i <= cut) {
    safe_cut = i;
    safe_images = images;
    safe_gens = gens;
    int32_t t = s->tokens[size_t(i)];
    int64_t len = 1;
    if (t == tok::kImgStart) {
      len = patches_per_image + 2;
      ++images;
    } else if (t == tok::kGen) {
      len = gen_slots;
      ++gens;
    }
    i += len;
  }
  if (i <= cut) {  // everything up to n fits (cannot happen since n > cut, kept for safety)
    safe_cut = n;
    safe_images = images;
    safe_gens = gens;
  }
  s->tokens.resize(size_t(safe_cut));
  s->images.resize(size_t(safe_images));
  if (!s->image_labels.empty()) s->image_labels.resize(size_t(safe_images));
  s->gen_targets.resize(size_t(safe_gens));
  if (!s->gen_labels.empty()) s->gen_labels.resize(size_t(safe_gens));
  FillTargets(s);
}

Microbatch PackMicrobatch(const std::vector<const Sample*>& samples, int64_t step, uint64_t seed, int64_t pixels,
                          int64_t gen_slots) {
  Microbatch mb;
  nn::LlmBatch& b = mb.llm;
  for (const Sample* s : samples) {
    mb.sample_ids.push_back(s->id);
    int64_t gen_in_sample = 0;
    b.Append(s->tokens, &s->targets);
    for (int32_t t : s->targets) mb.text_count += t >= 0;
    for (const auto& img : s->images) {
      BRAID_CHECK(int64_t(img.size()) == pixels);
      mb.images.insert(mb.images.end(), img.begin(), img.end());
      ++mb.num_images;
    }
    for (const auto& img : s->gen_targets) {
      BRAID_CHECK(int64_t(img.size()) == pixels);
      mb.gen_images.insert(mb.gen_images.end(), img.begin(), img.end());
      mb.gen_keys.push_back(GenerationKey(seed, step, s->id, gen_in_sample++));
      ++mb.num_gen;
    }
  }
  BRAID_CHECK(int64_t(b.gen_rows.size()) == mb.num_gen * gen_slots);
  return mb;
}

}  // namespace braid::train
