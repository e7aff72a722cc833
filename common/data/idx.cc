#include "common/data/idx.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace braid {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
// Refuse absurd headers before allocating (a corrupt count must not OOM).
constexpr int64_t kMaxElements = int64_t{1} << 32;

// Reads a whole file through gzread, which also passes raw files through.
StatusOr<std::vector<uint8_t>> ReadMaybeGzip(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::NotFound(path + ": no such file");
  }
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return Status::NotFound(path + ": cannot open: " + std::strerror(errno));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  while (true) {
    int n = gzread(f, buf, sizeof(buf));
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      return Status::DataLoss(path + ": gzip read error: " + msg);
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  // gzread returns 0 and sets Z_BUF_ERROR for a truncated gzip stream.
  int err = Z_OK;
  std::string msg = gzerror(f, &err);
  gzclose(f);
  if (err != Z_OK && err != Z_STREAM_END) {
    return Status::DataLoss(path + ": gzip stream corrupt or truncated: " + msg);
  }
  return out;
}

uint32_t ReadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

// Parses the header; returns the dims and checks the payload length.
StatusOr<std::vector<int64_t>> ParseHeader(const std::string& path, const std::vector<uint8_t>& data,
                                           uint32_t magic, int ndims) {
  const size_t header = 4 + 4 * static_cast<size_t>(ndims);
  if (data.size() < header) {
    return Status::DataLoss(path + ": truncated header (" + std::to_string(data.size()) + " bytes)");
  }
  uint32_t got = ReadBe32(data.data());
  if (got != magic) {
    return Status::DataLoss(path + ": bad magic " + Hex(got) + ", expected " + Hex(magic));
  }
  std::vector<int64_t> dims;
  int64_t total = 1;
  for (int i = 0; i < ndims; ++i) {
    int64_t d = ReadBe32(data.data() + 4 + 4 * i);
    dims.push_back(d);
    // Checked before multiplying: two 32-bit dims overflow int64 (fuzz/idx).
    if (d != 0 && total > kMaxElements / d) return Status::DataLoss(path + ": implausible dimensions in header");
    total *= d;
  }
  const size_t have = data.size() - header;
  if (static_cast<uint64_t>(total) > have) {
    return Status::DataLoss(path + ": truncated: header declares " + std::to_string(total) +
                            " bytes of data but file holds " + std::to_string(have));
  }
  return dims;
}

// Prefers "name.gz", falls back to "name".
StatusOr<std::string> FindIdx(const std::string& dir, const std::string& name) {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::path(dir) / name;
  std::string gz = base.string() + ".gz";
  if (std::filesystem::is_regular_file(gz, ec)) return gz;
  if (std::filesystem::is_regular_file(base, ec)) return base.string();
  return Status::NotFound(dir + ": missing " + name + "(.gz)");
}

Status CheckPair(const IdxImages& images, const std::vector<uint8_t>& labels, const std::string& ipath,
                 const std::string& lpath) {
  if (images.count != static_cast<int64_t>(labels.size())) {
    return Status::DataLoss(ipath + " has " + std::to_string(images.count) + " images but " + lpath + " has " +
                            std::to_string(labels.size()) + " labels");
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= kFashionClasses) {
      return Status::DataLoss(lpath + ": label " + std::to_string(labels[i]) + " at index " + std::to_string(i) +
                              " is not a Fashion-MNIST class");
    }
  }
  return Status::Ok();
}

constexpr const char* kClassNames[kFashionClasses] = {"t-shirt", "trouser", "pullover", "dress",   "coat",
                                                      "sandal",  "shirt",   "sneaker",  "bag",     "ankle boot"};

}  // namespace

StatusOr<IdxImages> LoadIdxImages(const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> data, ReadMaybeGzip(path));
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, ParseHeader(path, data, kImagesMagic, 3));
  IdxImages out;
  out.count = dims[0];
  out.rows = dims[1];
  out.cols = dims[2];
  const size_t n = static_cast<size_t>(out.count * out.rows * out.cols);
  out.pixels.assign(data.begin() + 16, data.begin() + 16 + static_cast<std::ptrdiff_t>(n));
  return out;
}

StatusOr<std::vector<uint8_t>> LoadIdxLabels(const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> data, ReadMaybeGzip(path));
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, ParseHeader(path, data, kLabelsMagic, 1));
  return std::vector<uint8_t>(data.begin() + 8, data.begin() + 8 + static_cast<std::ptrdiff_t>(dims[0]));
}

StatusOr<FashionMnist> LoadFashionMnist(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string tri, FindIdx(dir, "train-images-idx3-ubyte"));
  ASSIGN_OR_RETURN(std::string trl, FindIdx(dir, "train-labels-idx1-ubyte"));
  ASSIGN_OR_RETURN(std::string tei, FindIdx(dir, "t10k-images-idx3-ubyte"));
  ASSIGN_OR_RETURN(std::string tel, FindIdx(dir, "t10k-labels-idx1-ubyte"));
  FashionMnist fm;
  ASSIGN_OR_RETURN(fm.train_images, LoadIdxImages(tri));
  ASSIGN_OR_RETURN(fm.train_labels, LoadIdxLabels(trl));
  ASSIGN_OR_RETURN(fm.test_images, LoadIdxImages(tei));
  ASSIGN_OR_RETURN(fm.test_labels, LoadIdxLabels(tel));
  RETURN_IF_ERROR(CheckPair(fm.train_images, fm.train_labels, tri, trl));
  RETURN_IF_ERROR(CheckPair(fm.test_images, fm.test_labels, tei, tel));
  if (fm.train_images.rows != fm.test_images.rows || fm.train_images.cols != fm.test_images.cols) {
    return Status::DataLoss(tri + " and " + tei + " have different image sizes");
  }
  return fm;
}

const char* FashionClassName(int label) {
  if (label < 0 || label >= kFashionClasses) return "?";
  return kClassNames[label];
}

int FashionClassFromName(std::string_view name) {
  for (int i = 0; i < kFashionClasses; ++i) {
    if (name == kClassNames[i]) return i;
  }
  return -1;
}

}  // namespace braid
