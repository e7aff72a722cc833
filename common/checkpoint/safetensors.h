// The safetensors format (F32 only): 8-byte little-endian header length N,
// N bytes of JSON padded with spaces to a multiple of 8
//   {"<name>": {"dtype":"F32","shape":[...],"data_offsets":[begin,end]}, ...,
//    "__metadata__": {"<key>": "<string>"}}
// then the raw little-endian data; offsets are relative to the data section,
// which the tensors tile exactly (no gaps, no overlaps).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace braid {

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  const float* data = nullptr;  // numel(shape) floats
};

// Data is laid out in the order given. Errors: duplicate or reserved names.
Status WriteSafetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                        const std::map<std::string, std::string>& metadata);
// As above, also reporting the crc32 and size of the bytes written (for manifests).
Status WriteSafetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                        const std::map<std::string, std::string>& metadata, uint32_t* crc32,
                        uint64_t* bytes);

struct LoadedTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};
struct SafetensorsFile {
  std::map<std::string, LoadedTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// NotFound if missing; DataLoss naming the file when truncated, the header
// length runs past the end, the JSON is bad, offsets are out of range,
// overlap or leave gaps, a shape disagrees with its byte size, or dtype != F32.
StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path);
// Parses bytes already in memory; `path` only labels errors.
StatusOr<SafetensorsFile> ParseSafetensors(std::string_view bytes, const std::string& path);

}  // namespace braid
