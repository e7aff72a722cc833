// Task mixer: builds heterogeneous training samples (caption, interleaved,
// generation, text) from Fashion-MNIST + fortunes as a pure function of
// (seed, id), plus the caption prompt/parse helpers used by evaluation and the
// conversion of user manifest samples.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/rng.h"
#include "common/base/status.h"
#include "common/data/idx.h"
#include "common/data/manifest.h"
#include "common/data/sample.h"

namespace braid {

struct MixConfig {
  double caption = 0.5, interleaved = 0.15, generation = 0.25, text = 0.1;  // normalised by their sum
  int max_images = 8;        // per caption (1..max) / interleaved (2..max) sample
  int max_text_bytes = 256;  // fortunes and interleaved filler are cut to this
  int patches_per_image = 16;
  int gen_slots = 4;
  int image_size = 28;
  uint64_t seed = 0;
};

// Formats (token level; "..." are raw bytes):
//   caption:     kBos, block(img1) .. block(imgk), "Items: n1, n2, ..., nk.", kEos
//                k = 1 with prob 0.5, else uniform in 2..max_images
//   interleaved: kBos, per image: connective, block, " a <name>. " [+ fortune snippet], kEos
//   generation:  kBos, "Draw a <name>: ", kGen x gen_slots, kEos
//   text:        kBos, fortune, kEos
// Tasks without data (no fortunes / no images) get weight 0.
class TaskMixer {
 public:
  // Pointers are kept, not owned; they must outlive the mixer.
  TaskMixer(const FashionMnist* fm, const std::vector<std::string>* fortunes, MixConfig cfg);
  // Deterministic in (cfg.seed, id); uses only the TRAIN split. Thread-safe.
  Sample Make(int64_t id) const;
  const MixConfig& config() const { return cfg_; }

 private:
  std::vector<float> TrainPixels(int64_t index) const;  // resized to image_size
  void AddImage(int64_t index, Sample* s) const;  // block + pixels + label
  std::string Fortune(KeyedRng& rng, size_t max_bytes) const;
  void MakeCaption(KeyedRng& rng, Sample* s) const;
  void MakeInterleaved(KeyedRng& rng, Sample* s) const;
  void MakeGeneration(KeyedRng& rng, Sample* s) const;
  void MakeText(KeyedRng& rng, Sample* s) const;

  const FashionMnist* fm_;
  const std::vector<std::string>* fortunes_;
  MixConfig cfg_;
  int64_t train_count_ = 0;
  std::array<std::vector<int64_t>, kFashionClasses> by_class_;  // train indices per class
  std::array<double, 4> cumulative_{};                          // caption, interleaved, generation, text
};

inline constexpr const char* kCaptionPrefix = "Items: ";

// The evaluation prompt, exactly the prefix a 1-image caption sample trains on:
// kBos, [image block], then the bytes of "Items: ". No kEos.
std::vector<int32_t> CaptionPromptTokens(int patches_per_image);

// "coat, bag." / "coat" -> {"coat", "bag"} / {"coat"}: split on ", " up to the
// first '.' or the end; pieces are trimmed, empty ones dropped.
std::vector<std::string> ParseCaptionNames(std::string_view text);

// Loads the images (resized to image_size) and builds a "manifest" sample.
// "<image>" markers in text place the images in order (error if markers > 0
// and their count differs from images); with no markers images come first.
// One generation block per `generate` entry after the text. Errors name the file.
StatusOr<Sample> SampleFromManifest(const ManifestSample& m, const MixConfig& cfg);

}  // namespace braid
