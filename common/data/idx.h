// IDX file reader (the Fashion-MNIST / MNIST format), raw or gzip-compressed,
// plus Fashion-MNIST class names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace braid {

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count*rows*cols, row-major per image
};

// Reads an idx3-ubyte image file (magic 0x00000803), .gz or raw.
StatusOr<IdxImages> LoadIdxImages(const std::string& path);
// Reads an idx1-ubyte label file (magic 0x00000801), .gz or raw.
StatusOr<std::vector<uint8_t>> LoadIdxLabels(const std::string& path);

struct FashionMnist {
  IdxImages train_images, test_images;
  std::vector<uint8_t> train_labels, test_labels;
};

// dir holds train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz),
// t10k-images-idx3-ubyte(.gz), t10k-labels-idx1-ubyte(.gz).
StatusOr<FashionMnist> LoadFashionMnist(const std::string& dir);

inline constexpr int kFashionClasses = 10;
// Lower-case names used in captions ("t-shirt", ..., "ankle boot"); "?" if out of range.
const char* FashionClassName(int label);
// Inverse of FashionClassName; -1 if none.
int FashionClassFromName(std::string_view name);

}  // namespace braid
