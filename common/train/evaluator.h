// Held-out evaluation on the Fashion-MNIST test split: caption accuracy with
// greedy decoding (a caption is right when its first named item is the
// image's class) and the generator's diffusion loss with fixed keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/config/job_config.h"
#include "common/data/idx.h"
#include "common/train/multimodal_model.h"

namespace braid::train {

struct EvalOptions {
  int64_t limit = 0;   // test images to use; 0 = all 10,000
  int64_t batch = 500;
  int max_new_tokens = 16;
  bool progress = false;
};

struct EvalResult {
  int64_t caption_total = 0, caption_correct = 0;
  double caption_accuracy = 0;
  int64_t gen_total = 0;
  double gen_loss = 0;
  double seconds = 0;
  std::vector<std::string> examples;  // "label -> generated text" for the first few
};

EvalResult Evaluate(MultimodalModel& model, const FashionMnist& fm, const JobConfig& cfg, const EvalOptions& opt);

// Generates `per_class` images for each of the 10 classes ("Draw a <name>: ")
// with the DDIM sampler and writes them as one PNG grid (a row per class).
Status WriteClassSamples(MultimodalModel& model, const JobConfig& cfg, const std::string& png_path,
                         int per_class = 8);

// Test image `index` as image_size^2 floats in [0,1].
std::vector<float> TestImage(const FashionMnist& fm, int64_t index, int image_size);

}  // namespace braid::train
