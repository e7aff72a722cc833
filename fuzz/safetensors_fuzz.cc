// The safetensors reader (common/checkpoint/safetensors.h), in memory.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/checkpoint/safetensors.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto file = braid::ParseSafetensors(bytes, "fuzz.safetensors");
  if (!file.ok()) return 0;
  for (const auto& [name, t] : file->tensors) {
    int64_t numel = 1;
    for (int64_t d : t.shape) {
      FUZZ_CHECK(d >= 0);
      numel *= d;
    }
    FUZZ_CHECK(static_cast<size_t>(numel) == t.data.size());
    FUZZ_CHECK(name != "__metadata__");
  }
  return 0;
}
