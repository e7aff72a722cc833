#include "common/data/image_io.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/data/image_codecs.h"

namespace braid {

StatusOr<GrayImage> LoadImageFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Status::NotFound(path + ": no such image file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::DataLoss(path + ": read error");
  static const uint8_t kPngSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPngSig, 8) == 0) {
    return data_internal::DecodePng(bytes, path);
  }
  if (bytes.size() >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '2')) {
    return data_internal::DecodePgm(bytes, path);
  }
  return Status::DataLoss(path + ": unrecognised image format (expected PNG or PGM P5/P2 magic)");
}

GrayImage ResizeBilinear(const GrayImage& img, int width, int height) {
  GrayImage out;
  out.width = std::max(width, 0);
  out.height = std::max(height, 0);
  out.pixels.assign(static_cast<size_t>(out.width) * out.height, 0.f);
  if (img.width <= 0 || img.height <= 0 || out.pixels.empty()) return out;
  if (img.width == width && img.height == height) return img;
  const float sx = static_cast<float>(img.width) / width;
  const float sy = static_cast<float>(img.height) / height;
  for (int y = 0; y < height; ++y) {
    float fy = std::clamp((y + 0.5f) * sy - 0.5f, 0.f, static_cast<float>(img.height - 1));
    int y0 = static_cast<int>(fy);
    int y1 = std::min(y0 + 1, img.height - 1);
    float wy = fy - y0;
    for (int x = 0; x < width; ++x) {
      float fx = std::clamp((x + 0.5f) * sx - 0.5f, 0.f, static_cast<float>(img.width - 1));
      int x0 = static_cast<int>(fx);
      int x1 = std::min(x0 + 1, img.width - 1);
      float wx = fx - x0;
      const float* r0 = &img.pixels[static_cast<size_t>(y0) * img.width];
      const float* r1 = &img.pixels[static_cast<size_t>(y1) * img.width];
      float top = r0[x0] + (r0[x1] - r0[x0]) * wx;
      float bot = r1[x0] + (r1[x1] - r1[x0]) * wx;
      out.pixels[static_cast<size_t>(y) * width + x] = top + (bot - top) * wy;
    }
  }
  return out;
}

}  // namespace braid
