// One preprocessed training sample, model-agnostic: a token sequence with
// image blocks and generation slots, plus the images they stand for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace braid {

// Each image appears in tokens as: kImgStart, kImg x patches_per_image, kImgEnd.
// Each generation target appears as kGen x gen_slots (followed by text or kEos).
struct Sample {
  int64_t id = 0;
  std::string task;             // "caption" | "interleaved" | "generation" | "text" | "manifest"
  std::vector<int32_t> tokens;  // starts with kBos, ends with kEos
  // Same length as tokens; targets[i] = tokens[i+1] when that is a byte (<256)
  // or kEos, else -1; the last is -1.
  std::vector<int32_t> targets;
  std::vector<std::vector<float>> images;       // image_size^2 floats in [0,1], in block order
  std::vector<int> image_labels;                // class of each image or -1
  std::vector<std::vector<float>> gen_targets;  // image_size^2 floats in [0,1], in kGen-block order
  std::vector<int> gen_labels;
};

// Token-building helpers shared by the task mixer and manifest samples.
void AppendImageBlock(std::vector<int32_t>* tokens, int patches_per_image);  // kImgStart, kImg x n, kImgEnd
void AppendGenSlots(std::vector<int32_t>* tokens, int gen_slots);            // kGen x n
void AppendText(std::vector<int32_t>* tokens, const std::string& text);     // raw bytes

// Computes s->targets from s->tokens with the rule above.
void FillTargets(Sample* s);

}  // namespace braid
