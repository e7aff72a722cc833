#include <gtest/gtest.h>

#include "common/data/tokenizer.h"

namespace braid {
namespace {

TEST(DataTokenizer, AllBytesRoundTrip) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  ByteTokenizer t;
  std::vector<int32_t> ids = t.Encode(all);
  ASSERT_EQ(ids.size(), 256u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(ids[b], b);
  EXPECT_EQ(t.Decode(ids), all);
  EXPECT_EQ(t.DecodeText(ids), all);
}

TEST(DataTokenizer, Utf8AndSpecials) {
  ByteTokenizer t;
  const std::string text = "naïve café — 日本語 🙂";
  std::vector<int32_t> ids = t.Encode(text);
  EXPECT_EQ(ids.size(), text.size());
  EXPECT_EQ(t.Decode(ids), text);
  std::vector<int32_t> with = {tok::kBos, tok::kImgStart, tok::kImg, tok::kImgEnd};
  with.insert(with.end(), ids.begin(), ids.end());
  with.push_back(tok::kGen);
  with.push_back(tok::kEos);
  with.push_back(tok::kPad);
  EXPECT_EQ(t.Decode(with), "<|bos|><|img_start|><|img|><|img_end|>" + text + "<|gen|><|eos|><|pad|>");
  EXPECT_EQ(t.DecodeText(with), text);
  EXPECT_TRUE(ByteTokenizer::IsSpecial(tok::kBos));
  EXPECT_TRUE(ByteTokenizer::IsSpecial(tok::kPad));
  EXPECT_FALSE(ByteTokenizer::IsSpecial(255));
  EXPECT_FALSE(ByteTokenizer::IsSpecial(tok::kVocabSize));
  EXPECT_TRUE(t.Encode("").empty());
}

}  // namespace
}  // namespace braid
