// Grayscale image I/O (PNG via libpng, binary/ascii PGM) and bilinear resize.
// Pixels are floats in [0,1], row-major.
#pragma once

#include <string>
#include <vector>

#include "common/base/status.h"

namespace braid {

struct GrayImage {
  int width = 0, height = 0;
  std::vector<float> pixels;  // row-major, values in [0,1]
};

// Detects the format by magic bytes: PNG (any color type / bit depth, converted
// to gray by luminance, alpha ignored) or PGM (P5 binary, P2 ascii, maxval up
// to 65535, '#' comments). Missing file -> NotFound; corrupt, truncated or
// unknown format -> DataLoss naming the path.
StatusOr<GrayImage> LoadImageFile(const std::string& path);

// Pixel-centre bilinear resampling (edges clamped).
GrayImage ResizeBilinear(const GrayImage& img, int width, int height);

// Write 8-bit images (values clamped to [0,1] and rounded).
Status SavePgm(const std::string& path, const GrayImage& img);
Status SavePng(const std::string& path, const GrayImage& img);

}  // namespace braid
