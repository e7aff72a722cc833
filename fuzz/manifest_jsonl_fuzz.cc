// JSONL data manifests (common/data/manifest.h), through a scratch file (the
// loader takes a path and resolves image paths against its directory).
#include <cstddef>
#include <cstdint>
#include <set>

#include "common/data/manifest.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = braid::fuzz::WriteInputFile(data, size, "manifest.jsonl");
  auto samples = braid::LoadJsonlManifest(path);
  if (!samples.ok()) return 0;
  std::set<int64_t> ids;
  for (const braid::ManifestSample& s : *samples) {
    FUZZ_CHECK(s.id >= 0);
    FUZZ_CHECK(ids.insert(s.id).second);  // duplicates are an error
    for (const std::string& p : s.images) FUZZ_CHECK(!p.empty());
    for (const std::string& p : s.generate) FUZZ_CHECK(!p.empty());
  }
  return 0;
}
