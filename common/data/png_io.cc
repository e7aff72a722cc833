// PNG decoding (libpng low-level API, any color type / bit depth -> gray) and
// 8-bit gray encoding (libpng simplified API).
//
// libpng reports errors by longjmp. The rule that keeps this well defined: the
// function holding the setjmp (RunPngDecode) has no locals with destructors
// and touches all mutable state through the PngJob pointer, and the frames
// longjmp skips (libpng internals, our callbacks, DecodeBody) hold no
// destructible objects either. C++ containers live in the caller's PngJob.
#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "common/data/image_codecs.h"
#include "common/data/image_io.h"

namespace braid {
namespace data_internal {
namespace {

struct PngJob {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  png_structp png = nullptr;
  png_infop info = nullptr;
  char error[256] = {0};
  uint32_t width = 0, height = 0;
  int channels = 0, depth = 0;
  std::vector<uint8_t> raster;
  std::vector<png_bytep> rows;
};

void ReadCallback(png_structp png, png_bytep out, png_size_t n) {
  auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (n > job->size - job->pos) png_error(png, "unexpected end of file (truncated)");
  std::memcpy(out, job->data + job->pos, n);
  job->pos += n;
}

[[noreturn]] void ErrorCallback(png_structp png, png_const_charp msg) {
  auto* job = static_cast<PngJob*>(png_get_error_ptr(png));
  std::snprintf(job->error, sizeof(job->error), "%s", msg);
  png_longjmp(png, 1);
}

void WarningCallback(png_structp, png_const_charp) {}

// Everything that may png_error(); runs under RunPngDecode's setjmp.
void DecodeBody(PngJob* job) {
  png_structp png = job->png;
  png_infop info = job->info;
  png_set_read_fn(png, job, ReadCallback);
  png_set_user_limits(png, 1u << 16, 1u << 16);
  png_read_info(png, info);
  job->width = png_get_image_width(png, info);
  job->height = png_get_image_height(png, info);
  if (static_cast<uint64_t>(job->width) * job->height > static_cast<uint64_t>(kMaxImagePixels)) {
    png_error(png, "image too large");
  }
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);  // tRNS is never expanded: alpha ignored
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  job->channels = png_get_channels(png, info);
  job->depth = png_get_bit_depth(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  bool allocated = true;
  try {
    job->raster.resize(rowbytes * job->height);
    job->rows.resize(job->height);
  } catch (...) {
    allocated = false;
  }
  if (!allocated) png_error(png, "out of memory");
  for (uint32_t y = 0; y < job->height; ++y) job->rows[y] = job->raster.data() + y * rowbytes;
  png_read_image(png, job->rows.data());
  png_read_end(png, nullptr);
}

bool RunPngDecode(PngJob* job) {
  job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, ErrorCallback, WarningCallback);
  if (job->png == nullptr) {
    std::snprintf(job->error, sizeof(job->error), "cannot create libpng read struct");
    return false;
  }
  job->info = png_create_info_struct(job->png);
  if (job->info == nullptr) {
    png_destroy_read_struct(&job->png, nullptr, nullptr);
    std::snprintf(job->error, sizeof(job->error), "cannot create libpng info struct");
    return false;
  }
  if (setjmp(png_jmpbuf(job->png))) {
    png_destroy_read_struct(&job->png, &job->info, nullptr);
    return false;
  }
  DecodeBody(job);
  png_destroy_read_struct(&job->png, &job->info, nullptr);
  return true;
}

}  // namespace

StatusOr<GrayImage> DecodePng(const std::vector<uint8_t>& bytes, const std::string& path) {
  PngJob job;
  job.data = bytes.data();
  job.size = bytes.size();
  if (!RunPngDecode(&job)) return Status::DataLoss(path + ": corrupt PNG: " + job.error);
  if (job.depth != 8 && job.depth != 16) {
    return Status::DataLoss(path + ": unsupported PNG bit depth " + std::to_string(job.depth));
  }
  GrayImage img;
  img.width = static_cast<int>(job.width);
  img.height = static_cast<int>(job.height);
  img.pixels.resize(static_cast<size_t>(job.width) * job.height);
  const int bytes_per_sample = job.depth / 8;
  const float scale = job.depth == 16 ? 1.0f / 65535.0f : 1.0f / 255.0f;
  auto sample = [&](const uint8_t* p) {
    return static_cast<float>(bytes_per_sample == 2 ? (p[0] << 8) | p[1] : p[0]) * scale;
  };
  const size_t pixel_bytes = static_cast<size_t>(job.channels) * bytes_per_sample;
  for (uint32_t y = 0; y < job.height; ++y) {
    const uint8_t* row = job.rows[y];
    for (uint32_t x = 0; x < job.width; ++x) {
      const uint8_t* p = row + x * pixel_bytes;
      float v;
      if (job.channels >= 3) {
        v = 0.299f * sample(p) + 0.587f * sample(p + bytes_per_sample) + 0.114f * sample(p + 2 * bytes_per_sample);
      } else {
        v = sample(p);
      }
      img.pixels[static_cast<size_t>(y) * job.width + x] = std::min(std::max(v, 0.f), 1.f);
    }
  }
  return img;
}

}  // namespace data_internal

Status SavePng(const std::string& path, const GrayImage& img) {
  RETURN_IF_ERROR(data_internal::CheckWritable(path, img));
  std::vector<uint8_t> buf(img.pixels.size());
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = data_internal::ToByte(img.pixels[i]);
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(img.width);
  image.height = static_cast<png_uint_32>(img.height);
  image.format = PNG_FORMAT_GRAY;
  if (!png_image_write_to_file(&image, path.c_str(), 0, buf.data(), 0, nullptr)) {
    std::string msg = image.message;
    png_image_free(&image);
    return Status::DataLoss(path + ": cannot write PNG: " + msg);
  }
  return Status::Ok();
}

}  // namespace braid
