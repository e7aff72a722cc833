// IDX image and label files (common/data/idx.h), raw or gzip, through a
// scratch file (the loaders take a path). The first byte picks the loader.
#include <cstddef>
#include <cstdint>

#include "common/data/idx.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool labels = data[0] & 1;
  const std::string path = braid::fuzz::WriteInputFile(data + 1, size - 1, "input.idx");
  if (labels) {
    (void)braid::LoadIdxLabels(path);
    return 0;
  }
  auto images = braid::LoadIdxImages(path);
  if (images.ok()) {
    FUZZ_CHECK(images->count >= 0 && images->rows >= 0 && images->cols >= 0);
    FUZZ_CHECK(images->pixels.size() == static_cast<size_t>(images->count * images->rows * images->cols));
  }
  return 0;
}
