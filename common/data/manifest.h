// User datasets as JSONL manifests: one JSON object per line, e.g.
//   {"id": 7, "text": "A <image> next to a <image>.", "images": ["a.png", "b.pgm"], "generate": ["c.png"]}
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace braid {

struct ManifestSample {
  int64_t id = 0;
  std::string text;
  std::vector<std::string> images;    // encoder inputs
  std::vector<std::string> generate;  // images the generator should produce
};

// Paths in the result are resolved relative to the manifest's directory.
// "id" (non-negative integer) and "text" (string) are required; "images" and
// "generate" are optional arrays of strings. Unknown keys, duplicate ids and
// malformed lines are InvalidArgument errors of the form
// "FILE:LINE: field `images`: expected array of strings". Empty lines skipped.
StatusOr<std::vector<ManifestSample>> LoadJsonlManifest(const std::string& path);

}  // namespace braid
