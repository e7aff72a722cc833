// Image files (common/data/image_io.h): PNG through libpng and PGM P5/P2,
// detected by magic, through a scratch file (LoadImageFile takes a path).
// A decoded image goes through ResizeBilinear as the data pipeline does.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "common/data/image_io.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = braid::fuzz::WriteInputFile(data, size, "input.img");
  auto img = braid::LoadImageFile(path);
  if (!img.ok()) return 0;
  FUZZ_CHECK(img->width > 0 && img->height > 0);
  FUZZ_CHECK(img->pixels.size() == static_cast<size_t>(img->width) * img->height);
  for (float v : img->pixels) FUZZ_CHECK(v >= 0.f && v <= 1.f);
  braid::GrayImage small = braid::ResizeBilinear(*img, 28, 28);
  FUZZ_CHECK(small.pixels.size() == 28 * 28);
  return 0;
}
