// Internal: in-memory decoders behind LoadImageFile (image_io.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/data/image_io.h"

namespace braid::data_internal {

// `path` is used only in error messages.
StatusOr<GrayImage> DecodePng(const std::vector<uint8_t>& bytes, const std::string& path);
StatusOr<GrayImage> DecodePgm(const std::vector<uint8_t>& bytes, const std::string& path);

// Float in [0,1] -> 0..255 (clamped, rounded, NaN -> 0).
uint8_t ToByte(float v);
// InvalidArgument unless img has positive size and matching pixel count.
Status CheckWritable(const std::string& path, const GrayImage& img);

// Largest image accepted (a corrupt header must not cause a huge allocation).
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

}  // namespace braid::data_internal
