// Sample shapes for the reorderer's algorithms: a synthesiser of realistic
// multimodal workloads from published dataset statistics, and a reader of
// samples files (JSONL). Pure: no processes; the reader only parses text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace braid::reorder {

// One sample as the balancers see it (docs/REORDER.md).
struct WorkSample {
  int64_t id = 0;
  int32_t images = 0;        // encoder inputs
  int32_t image_tokens = 0;  // visual tokens (patches) per image
  int64_t text_tokens = 0;   // text tokens
  int32_t gen_images = 0;    // generation targets
  // Sequence length on the LLM: text plus every image's tokens.
  int64_t llm_tokens() const { return text_tokens + int64_t(images) * image_tokens; }
};

// A sample whose packed LLM sequence of `packed_tokens` holds its images'
// slots: the text is the rest (never negative).
WorkSample WorkSampleFromPacked(int64_t id, int32_t images, int64_t packed_tokens, int32_t gen_images,
                                int32_t image_tokens);

// Names SynthesizeWorkload accepts: "llava", "obelics", "mmc4", "laion", "mixed".
const std::vector<std::string>& WorkloadNames();

// `count` samples (ids 0..count-1) shaped like the named dataset
// (distributions and sources: docs/REORDER.md, "Workloads"), deterministic for
// (name, count, seed) and the same with any standard library (std::mt19937_64
// plus hand-written transforms; no std:: distributions). InvalidArgument for
// an unknown name (listing the known ones) or count < 1.
StatusOr<std::vector<WorkSample>> SynthesizeWorkload(const std::string& name, int64_t count, uint64_t seed);

// Parses a samples file's text, one JSON object per non-blank line
// (whitespace-only lines are skipped but counted):
// {"id": int, "images": int, "image_tokens": int, "text_tokens": int,
//  "gen_images": int}; every field required and a JSON integer, counts >= 0
// and within their C++ types, ids any int64 but unique; other keys are
// ignored. Samples come back in file order. InvalidArgument naming `source`,
// the 1-based line number and the field (e.g.
// "s.jsonl:3: images: must be >= 0, got -1"); an input without samples is
// "<source>: no samples".
StatusOr<std::vector<WorkSample>> ParseSamplesJsonl(const std::string& text, const std::string& source);

}  // namespace braid::reorder
