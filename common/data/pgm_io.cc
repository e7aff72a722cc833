// PGM (netpbm graymap) decoding and encoding: P5 binary and P2 ascii.
#include <cmath>
#include <cstdio>
#include <fstream>

#include "common/data/image_codecs.h"
#include "common/data/image_io.h"

namespace braid {
namespace data_internal {
namespace {

bool IsSpace(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Cursor over the header/ascii body; '#' starts a comment up to end of line.
class PgmReader {
 public:
  explicit PgmReader(const std::vector<uint8_t>& b) : b_(b) {}
  void SkipSpaceAndComments() {
    while (pos_ < b_.size()) {
      if (IsSpace(b_[pos_])) {
        ++pos_;
      } else if (b_[pos_] == '#') {
        while (pos_ < b_.size() && b_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }
  // Reads a non-negative decimal integer; false at end of data or on garbage.
  bool ReadUint(int64_t* v) {
    SkipSpaceAndComments();
    if (pos_ >= b_.size() || b_[pos_] < '0' || b_[pos_] > '9') return false;
    int64_t x = 0;
    while (pos_ < b_.size() && b_[pos_] >= '0' && b_[pos_] <= '9') {
      x = x * 10 + (b_[pos_] - '0');
      if (x > (int64_t{1} << 40)) return false;
      ++pos_;
    }
    *v = x;
    return true;
  }
  bool AtEnd() const { return pos_ >= b_.size(); }
  size_t pos() const { return pos_; }
  void Advance() { ++pos_; }
  uint8_t Peek() const { return b_[pos_]; }

 private:
  const std::vector<uint8_t>& b_;
  size_t pos_ = 2;  // after the magic
};

}  // namespace

StatusOr<GrayImage> DecodePgm(const std::vector<uint8_t>& bytes, const std::string& path) {
  const bool binary = bytes[1] == '5';
  PgmReader r(bytes);
  int64_t w = 0, h = 0, maxval = 0;
  if (!r.ReadUint(&w) || !r.ReadUint(&h) || !r.ReadUint(&maxval)) {
    return Status::DataLoss(path + ": PGM header truncated or malformed");
  }
  // w > max / h, not w * h > max: each side may be up to 2^40 (fuzz/image).
  if (w <= 0 || h <= 0 || w > kMaxImagePixels / h) {
    return Status::DataLoss(path + ": PGM has invalid size " + std::to_string(w) + "x" + std::to_string(h));
  }
  if (maxval < 1 || maxval > 65535) {
    return Status::DataLoss(path + ": PGM maxval " + std::to_string(maxval) + " outside 1..65535");
  }
  GrayImage img;
  img.width = static_cast<int>(w);
  img.height = static_cast<int>(h);
  const size_t n = static_cast<size_t>(w * h);
  const float fmax = static_cast<float>(maxval);
  if (binary) {
    // Exactly one whitespace byte separates maxval from the raster.
    if (r.AtEnd() || !IsSpace(r.Peek())) return Status::DataLoss(path + ": PGM header not followed by whitespace");
    r.Advance();
    const size_t bps = maxval < 256 ? 1 : 2;
    const size_t need = n * bps;
    const size_t have = bytes.size() - r.pos();
    if (have < need) {
      return Status::DataLoss(path + ": PGM truncated: need " + std::to_string(need) + " raster bytes, have " +
                              std::to_string(have));
    }
    img.pixels.resize(n);  // only now: a 20-byte header could ask for 2^28 pixels (fuzz/image)
    const uint8_t* p = bytes.data() + r.pos();
    for (size_t i = 0; i < n; ++i) {
      int64_t v = bps == 1 ? p[i] : (int64_t{p[2 * i]} << 8) | p[2 * i + 1];
      if (v > maxval) return Status::DataLoss(path + ": PGM sample exceeds maxval");
      img.pixels[i] = static_cast<float>(v) / fmax;
    }
  } else {
    // Each sample takes at least one byte: refuse a short file before allocating.
    if (bytes.size() - r.pos() < n) {
      return Status::DataLoss(path + ": PGM (P2) truncated: " + std::to_string(n) + " samples in " +
                              std::to_string(bytes.size() - r.pos()) + " bytes");
    }
    img.pixels.resize(n);
    for (size_t i = 0; i < n; ++i) {
      int64_t v = 0;
      if (!r.ReadUint(&v)) {
        return Status::DataLoss(path + ": PGM (P2) truncated or malformed at sample " + std::to_string(i) + " of " +
                                std::to_string(n));
      }
      if (v > maxval) return Status::DataLoss(path + ": PGM sample " + std::to_string(v) + " exceeds maxval");
      img.pixels[i] = static_cast<float>(v) / fmax;
    }
  }
  return img;
}

uint8_t ToByte(float v) {
  if (!(v > 0.f)) return 0;  // also maps NaN to 0
  if (v >= 1.f) return 255;
  return static_cast<uint8_t>(std::lround(v * 255.f));
}

Status CheckWritable(const std::string& path, const GrayImage& img) {
  if (img.width <= 0 || img.height <= 0 ||
      img.pixels.size() != static_cast<size_t>(img.width) * static_cast<size_t>(img.height)) {
    return Status::InvalidArgument(path + ": cannot save image of size " + std::to_string(img.width) + "x" +
                                   std::to_string(img.height) + " with " + std::to_string(img.pixels.size()) +
                                   " pixels");
  }
  return Status::Ok();
}

}  // namespace data_internal

Status SavePgm(const std::string& path, const GrayImage& img) {
  RETURN_IF_ERROR(data_internal::CheckWritable(path, img));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::NotFound(path + ": cannot open for writing");
  out << "P5\n" << img.width << " " << img.height << "\n255\n";
  std::string raster(img.pixels.size(), '\0');
  for (size_t i = 0; i < img.pixels.size(); ++i) raster[i] = static_cast<char>(data_internal::ToByte(img.pixels[i]));
  out.write(raster.data(), static_cast<std::streamsize>(raster.size()));
  out.close();
  if (!out) return Status::DataLoss(path + ": write failed");
  return Status::Ok();
}

}  // namespace braid
