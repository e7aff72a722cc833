#include "common/checkpoint/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "common/checkpoint/durable_file.h"

namespace braid {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace {

constexpr char kMetadataKey[] = "__metadata__";

// numel of a shape, or -1 on a negative dim or overflow of the byte count.
int64_t CheckedNumel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / 4 / d) return -1;
    n *= d;
  }
  return n;
}

Status Corrupt(const std::string& path, const std::string& what) {
  return Status::DataLoss("safetensors " + path + ": " + what);
}

}  // namespace

Status WriteSafetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  return WriteSafetensors(path, tensors, metadata, nullptr, nullptr);
}

Status WriteSafetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                        const std::map<std::string, std::string>& metadata, uint32_t* crc32,
                        uint64_t* bytes) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const NamedTensor& t : tensors) {
    if (t.name.empty() || t.name == kMetadataKey)
      return Status::InvalidArgument("safetensors " + path + ": invalid tensor name '" + t.name + "'");
    if (header.contains(t.name))
      return Status::InvalidArgument("safetensors " + path + ": duplicate tensor '" + t.name + "'");
    const int64_t numel = CheckedNumel(t.shape);
    if (numel < 0) return Status::InvalidArgument("safetensors " + path + ": bad shape for '" + t.name + "'");
    if (numel > 0 && t.data == nullptr)
      return Status::InvalidArgument("safetensors " + path + ": no data for '" + t.name + "'");
    const uint64_t size = static_cast<uint64_t>(numel) * sizeof(float);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<uint64_t>(json.size()) >> (8 * i));

  DurableWriter w;
  RETURN_IF_ERROR(w.Open(path));
  RETURN_IF_ERROR(w.Append(len, sizeof(len)));
  RETURN_IF_ERROR(w.Append(json.data(), json.size()));
  for (const NamedTensor& t : tensors) {
    const size_t n = static_cast<size_t>(CheckedNumel(t.shape)) * sizeof(float);
    if (n > 0) RETURN_IF_ERROR(w.Append(t.data, n));
  }
  RETURN_IF_ERROR(w.Close());
  if (crc32) *crc32 = w.crc32();
  if (bytes) *bytes = w.bytes();
  return Status::Ok();
}

StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(path));
  return ParseSafetensors(bytes, path);
}

StatusOr<SafetensorsFile> ParseSafetensors(std::string_view bytes, const std::string& path) {
  if (bytes.size() < 8)
    return Corrupt(path, "truncated: " + std::to_string(bytes.size()) + " bytes, no header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > bytes.size() - 8)
    return Corrupt(path, "header length " + std::to_string(n) + " runs past the end of the file (" +
                             std::to_string(bytes.size()) + " bytes): truncated or corrupt");
  const std::string_view data = bytes.substr(8 + n);

  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n), nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return Corrupt(path, "bad JSON header");
  if (!header.is_object()) return Corrupt(path, "bad JSON header: not an object");

  SafetensorsFile out;
  struct Extent {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Extent> extents;
  for (const auto& [name, entry] : header.items()) {
    if (name == kMetadataKey) {
      if (!entry.is_object()) return Corrupt(path, "__metadata__ is not an object");
      for (const auto& [k, val] : entry.items()) {
        if (!val.is_string()) return Corrupt(path, "__metadata__." + k + " is not a string");
        out.metadata[k] = val.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets"))
      return Corrupt(path, where + "needs dtype, shape and data_offsets");
    const auto& dtype = entry["dtype"];
    if (!dtype.is_string()) return Corrupt(path, where + "dtype is not a string");
    if (dtype.get<std::string>() != "F32")
      return Corrupt(path, where + "unsupported dtype " + dtype.get<std::string>() + " (only F32)");
    const auto& js = entry["shape"];
    const auto& jo = entry["data_offsets"];
    if (!js.is_array()) return Corrupt(path, where + "shape is not an array");
    LoadedTensor t;
    for (const auto& d : js) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) return Corrupt(path, where + "bad shape " + js.dump());
      t.shape.push_back(d.get<int64_t>());
    }
    if (!jo.is_array() || jo.size() != 2 || !jo[0].is_number_unsigned() || !jo[1].is_number_unsigned())
      return Corrupt(path, where + "bad data_offsets " + jo.dump());
    const uint64_t begin = jo[0].get<uint64_t>(), end = jo[1].get<uint64_t>();
    if (begin > end || end > data.size())
      return Corrupt(path, where + "data_offsets " + jo.dump() + " out of range (data section " +
                               std::to_string(data.size()) + " bytes)");
    const int64_t numel = CheckedNumel(t.shape);
    if (numel < 0 || static_cast<uint64_t>(numel) * sizeof(float) != end - begin)
      return Corrupt(path, where + "shape " + js.dump() + " does not match " + std::to_string(end - begin) +
                               " bytes of data_offsets");
    t.data.resize(static_cast<size_t>(numel));
    if (numel > 0) std::memcpy(t.data.data(), data.data() + begin, end - begin);
    extents.push_back({begin, end, name});
    out.tensors.emplace(name, std::move(t));
  }
  // The tensors must tile the data section exactly.
  std::sort(extents.begin(), extents.end(),
            [](const Extent& a, const Extent& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t pos = 0;
  for (const Extent& e : extents) {
    if (e.begin < pos) return Corrupt(path, "tensor '" + e.name + "' overlaps the previous tensor");
    if (e.begin > pos) return Corrupt(path, "gap before tensor '" + e.name + "' in the data section");
    pos = e.end;
  }
  if (pos != data.size())
    return Corrupt(path, std::to_string(data.size() - pos) + " unexpected trailing bytes after the last tensor");
  return out;
}

}  // namespace braid
