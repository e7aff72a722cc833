#include "common/data/tokenizer.h"

namespace braid {
namespace {

const char* SpecialName(int32_t id) {
  switch (id) {
    case tok::kBos: return "<|bos|>";
    case tok::kEos: return "<|eos|>";
    case tok::kImgStart: return "<|img_start|>";
    case tok::kImgEnd: return "<|img_end|>";
    case tok::kImg: return "<|img|>";
    case tok::kGen: return "<|gen|>";
    case tok::kPad: return "<|pad|>";
    default: return nullptr;
  }
}

}  // namespace

std::vector<int32_t> ByteTokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  for (char c : text) ids.push_back(static_cast<int32_t>(static_cast<unsigned char>(c)));
  return ids;
}

std::string ByteTokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id >= 0 && id < 256) {
      out += static_cast<char>(static_cast<unsigned char>(id));
    } else if (const char* name = SpecialName(id)) {
      out += name;
    } else {
      out += "<|id=" + std::to_string(id) + "|>";
    }
  }
  return out;
}

std::string ByteTokenizer::DecodeText(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) {
    if (id >= 0 && id < 256) out += static_cast<char>(static_cast<unsigned char>(id));
  }
  return out;
}

bool ByteTokenizer::IsSpecial(int32_t id) { return id >= 256 && id < tok::kVocabSize; }

}  // namespace braid
