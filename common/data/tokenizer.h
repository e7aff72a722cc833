// Byte-level tokenizer: ids 0..255 are raw bytes, 256.. are special tokens
// marking sequence ends, image blocks and generation slots.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace braid {

namespace tok {
constexpr int32_t kBos = 256, kEos = 257, kImgStart = 258, kImgEnd = 259;
constexpr int32_t kImg = 260;  // image placeholder, one per image patch-token
constexpr int32_t kGen = 261;  // generation slot
constexpr int32_t kPad = 262;
constexpr int32_t kVocabSize = 264;
}  // namespace tok

class ByteTokenizer {
 public:
  // Bytes only, no specials added.
  std::vector<int32_t> Encode(std::string_view text) const;
  // Specials rendered as "<|bos|>", "<|eos|>", "<|img_start|>", "<|img_end|>",
  // "<|img|>", "<|gen|>", "<|pad|>"; other out-of-range ids as "<|id=N|>".
  std::string Decode(const std::vector<int32_t>& ids) const;
  // Bytes only; specials (and invalid ids) dropped.
  std::string DecodeText(const std::vector<int32_t>& ids) const;
  static bool IsSpecial(int32_t id);
};

}  // namespace braid
