#include "common/data/sample.h"

#include "common/data/tokenizer.h"

namespace braid {

void AppendImageBlock(std::vector<int32_t>* tokens, int patches_per_image) {
  tokens->push_back(tok::kImgStart);
  tokens->insert(tokens->end(), static_cast<size_t>(patches_per_image), tok::kImg);
  tokens->push_back(tok::kImgEnd);
}

void AppendGenSlots(std::vector<int32_t>* tokens, int gen_slots) {
  tokens->insert(tokens->end(), static_cast<size_t>(gen_slots), tok::kGen);
}

void AppendText(std::vector<int32_t>* tokens, const std::string& text) {
  for (char c : text) tokens->push_back(static_cast<int32_t>(static_cast<unsigned char>(c)));
}

void FillTargets(Sample* s) {
  const size_t n = s->tokens.size();
  s->targets.assign(n, -1);
  for (size_t i = 0; i + 1 < n; ++i) {
    const int32_t next = s->tokens[i + 1];
    if ((next >= 0 && next < 256) || next == tok::kEos) s->targets[i] = next;
  }
}

}  // namespace braid
