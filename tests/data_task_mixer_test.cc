#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <map>

#include "common/data/image_io.h"
#include "common/data/task_mixer.h"
#include "common/data/tokenizer.h"
#include "tests/temp_dir.h"

namespace braid {
namespace {

// 200 tiny train images; every pixel of image i holds 20 * label(i) so a
// test can recover the label from the pixels.
FashionMnist SyntheticFashion() {
  FashionMnist fm;
  fm.train_images.count = 200;
  fm.train_images.rows = 28;
  fm.train_images.cols = 28;
  for (int i = 0; i < 200; ++i) {
    const uint8_t label = static_cast<uint8_t>((i * 3) % 10);
    fm.train_labels.push_back(label);
    fm.train_images.pixels.insert(fm.train_images.pixels.end(), 28 * 28, static_cast<uint8_t>(20 * label));
  }
  return fm;
}

std::vector<std::string> Fortunes() {
  return {"A short one.", "Another fortune cookie that is a bit longer than the first.", std::string(300, 'z')};
}

int CountToken(const std::vector<int32_t>& t, int32_t id) { return static_cast<int>(std::count(t.begin(), t.end(), id)); }

TEST(DataTaskMixer, DeterministicAndWellFormed) {
  const FashionMnist fm = SyntheticFashion();
  const std::vector<std::string> fortunes = Fortunes();
  MixConfig cfg;
  cfg.seed = 42;
  TaskMixer mixer(&fm, &fortunes, cfg);
  TaskMixer mixer2(&fm, &fortunes, cfg);
  ByteTokenizer tk;
  for (int64_t id = 0; id < 300; ++id) {
    const Sample a = mixer.Make(id);
    const Sample b = mixer2.Make(id);
    ASSERT_EQ(a.tokens, b.tokens);
    ASSERT_EQ(a.images, b.images);
    ASSERT_EQ(a.gen_targets, b.gen_targets);
    ASSERT_EQ(a.task, b.task);
    EXPECT_EQ(a.id, id);
    ASSERT_GE(a.tokens.size(), 2u);
    EXPECT_EQ(a.tokens.front(), tok::kBos);
    EXPECT_EQ(a.tokens.back(), tok::kEos);
    ASSERT_EQ(a.targets.size(), a.tokens.size());
    for (size_t i = 0; i < a.tokens.size(); ++i) {
      const int32_t next = i + 1 < a.tokens.size() ? a.tokens[i + 1] : -2;
      const int32_t want = (next >= 0 && next < 256) || next == tok::kEos ? next : -1;
      ASSERT_EQ(a.targets[i], want) << "id " << id << " pos " << i;
    }
    // Blocks match images, in order.
    EXPECT_EQ(CountToken(a.tokens, tok::kImgStart), static_cast<int>(a.images.size()));
    EXPECT_EQ(CountToken(a.tokens, tok::kImg), 16 * static_cast<int>(a.images.size()));
    EXPECT_EQ(CountToken(a.tokens, tok::kGen), 4 * static_cast<int>(a.gen_targets.size()));
    EXPECT_EQ(a.image_labels.size(), a.images.size());
    EXPECT_EQ(a.gen_labels.size(), a.gen_targets.size());
    for (size_t k = 0; k < a.images.size(); ++k) {
      ASSERT_EQ(a.images[k].size(), 784u);
      EXPECT_NEAR(a.images[k][0], 20.f * a.image_labels[k] / 255.f, 1e-6f);
    }
    for (size_t k = 0; k < a.gen_targets.size(); ++k) {
      ASSERT_EQ(a.gen_targets[k].size(), 784u);
      EXPECT_NEAR(a.gen_targets[k][100], 20.f * a.gen_labels[k] / 255.f, 1e-6f);
    }
    const std::string text = tk.DecodeText(a.tokens);
    if (a.task == "caption") {
      std::string want = "Items: ";
      for (size_t k = 0; k < a.image_labels.size(); ++k) {
        want += std::string(k ? ", " : "") + FashionClassName(a.image_labels[k]);
      }
      EXPECT_EQ(text, want + ".");
      EXPECT_EQ(ParseCaptionNames(text.substr(7)).size(), a.images.size());
    } else if (a.task == "generation") {
      EXPECT_EQ(text, std::string("Draw a ") + FashionClassName(a.gen_labels[0]) + ": ");
      EXPECT_EQ(a.tokens[a.tokens.size() - 2], tok::kGen);
    } else if (a.task == "text") {
      EXPECT_FALSE(text.empty());
      EXPECT_LE(text.size(), 256u);
    } else {
      ASSERT_EQ(a.task, "interleaved");
      EXPECT_GE(a.images.size(), 2u);
      for (int label : a.image_labels) {
        EXPECT_NE(text.find(std::string(" a ") + FashionClassName(label) + "."), std::string::npos) << text;
      }
    }
  }
  // A different seed gives a different stream.
  MixConfig other = cfg;
  other.seed = 43;
  TaskMixer mixer3(&fm, &fortunes, other);
  int same = 0;
  for (int64_t id = 0; id < 50; ++id) same += mixer3.Make(id).tokens == mixer.Make(id).tokens;
  EXPECT_LT(same, 25);
}

TEST(DataTaskMixer, ProportionsAndImageCounts) {
  const FashionMnist fm = SyntheticFashion();
  const std::vector<std::string> fortunes = Fortunes();
  MixConfig cfg;
  cfg.seed = 7;
  TaskMixer mixer(&fm, &fortunes, cfg);
  std::map<std::string, int> tasks;
  std::map<size_t, int> caption_images;
  size_t max_interleaved = 0, min_interleaved = 100;
  const int n = 2000;
  for (int64_t id = 0; id < n; ++id) {
    const Sample s = mixer.Make(id);
    ++tasks[s.task];
    if (s.task == "caption") ++caption_images[s.images.size()];
    if (s.task == "interleaved") {
      max_interleaved = std::max(max_interleaved, s.images.size());
      min_interleaved = std::min(min_interleaved, s.images.size());
    }
  }
  EXPECT_NEAR(tasks["caption"] / double(n), 0.5, 0.05);
  EXPECT_NEAR(tasks["interleaved"] / double(n), 0.15, 0.04);
  EXPECT_NEAR(tasks["generation"] / double(n), 0.25, 0.04);
  EXPECT_NEAR(tasks["text"] / double(n), 0.1, 0.03);
  // Heavy tail: half the captions have one image, the rest spread over 2..8.
  EXPECT_NEAR(caption_images[1] / double(tasks["caption"]), 0.5, 0.06);
  EXPECT_GT(caption_images[8], 0);
  EXPECT_GT(caption_images[2], 0);
  EXPECT_EQ(caption_images.rbegin()->first, 8u);
  EXPECT_EQ(min_interleaved, 2u);
  EXPECT_EQ(max_interleaved, 8u);
}

TEST(DataTaskMixer, NoFortunesMeansNoTextTask) {
  const FashionMnist fm = SyntheticFashion();
  const std::vector<std::string> none;
  TaskMixer mixer(&fm, &none, MixConfig{});
  for (int64_t id = 0; id < 200; ++id) EXPECT_NE(mixer.Make(id).task, "text");
}

TEST(DataTaskMixer, CaptionPromptIsPrefixOfOneImageCaption) {
  const FashionMnist fm = SyntheticFashion();
  const std::vector<std::string> fortunes = Fortunes();
  MixConfig cfg;
  cfg.patches_per_image = 9;
  TaskMixer mixer(&fm, &fortunes, cfg);
  const std::vector<int32_t> prompt = CaptionPromptTokens(9);
  ASSERT_EQ(prompt.size(), 1u + 11u + 7u);
  int checked = 0;
  for (int64_t id = 0; id < 200 && checked < 5; ++id) {
    const Sample s = mixer.Make(id);
    if (s.task != "caption" || s.images.size() != 1) continue;
    ++checked;
    ASSERT_GT(s.tokens.size(), prompt.size());
    EXPECT_TRUE(std::equal(prompt.begin(), prompt.end(), s.tokens.begin()));
    const std::vector<int32_t> rest(s.tokens.begin() + static_cast<std::ptrdiff_t>(prompt.size()), s.tokens.end());
    EXPECT_EQ(ParseCaptionNames(ByteTokenizer().DecodeText(rest)),
              std::vector<std::string>{FashionClassName(s.image_labels[0])});
  }
  EXPECT_EQ(checked, 5);
}

TEST(DataTaskMixer, ParseCaptionNames) {
  using V = std::vector<std::string>;
  EXPECT_EQ(ParseCaptionNames("coat, bag."), (V{"coat", "bag"}));
  EXPECT_EQ(ParseCaptionNames("coat"), (V{"coat"}));
  EXPECT_EQ(ParseCaptionNames("ankle boot, t-shirt. trailing, junk"), (V{"ankle boot", "t-shirt"}));
  EXPECT_EQ(ParseCaptionNames("Items: dress, sandal."), (V{"dress", "sandal"}));
  EXPECT_EQ(ParseCaptionNames(""), V{});
  EXPECT_EQ(ParseCaptionNames("."), V{});
}

TEST(DataTaskMixer, FillTargets) {
  Sample s;
  s.tokens = {tok::kBos, tok::kImgStart, tok::kImg, tok::kImgEnd, 'h', 'i', tok::kGen, tok::kEos};
  FillTargets(&s);
  EXPECT_EQ(s.targets, (std::vector<int32_t>{-1, -1, -1, 'h', 'i', -1, tok::kEos, -1}));
}

TEST(DataTaskMixer, SampleFromManifest) {
  const testing_util::ScopedTempDir tmp("braid_mixer_");
  const std::string& dir = tmp.path();
  GrayImage g;
  g.width = 10;
  g.height = 10;
  g.pixels.assign(100, 0.6f);
  ASSERT_TRUE(SavePng(dir + "/a.png", g).ok());
  g.pixels.assign(100, 0.2f);
  ASSERT_TRUE(SavePgm(dir + "/b.pgm", g).ok());
  std::ofstream(dir + "/m.jsonl") << R"({"id": 5, "text": "x<image>y<image>", "images": ["a.png", "b.pgm"], "generate": ["a.png"]})"
                                  << "\n"
                                  << R"({"id": 6, "text": "hi", "images": ["b.pgm"]})" << "\n"
                                  << R"({"id": 7, "text": "<image>", "images": ["a.png", "b.pgm"]})" << "\n"
                                  << R"({"id": 8, "text": "t", "images": ["missing.png"]})" << "\n";
  StatusOr<std::vector<ManifestSample>> m = LoadJsonlManifest(dir + "/m.jsonl");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  MixConfig cfg;
  cfg.patches_per_image = 2;
  cfg.gen_slots = 3;
  cfg.image_size = 28;

  StatusOr<Sample> s = SampleFromManifest((*m)[0], cfg);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  using namespace tok;
  EXPECT_EQ(s->tokens, (std::vector<int32_t>{kBos, 'x', kImgStart, kImg, kImg, kImgEnd, 'y', kImgStart, kImg, kImg,
                                             kImgEnd, kGen, kGen, kGen, kEos}));
  EXPECT_EQ(s->task, "manifest");
  EXPECT_EQ(s->id, 5);
  ASSERT_EQ(s->images.size(), 2u);
  ASSERT_EQ(s->images[0].size(), 784u);
  EXPECT_NEAR(s->images[0][300], 0.6f, 1.f / 255);
  EXPECT_NEAR(s->images[1][300], 0.2f, 1.f / 255);
  ASSERT_EQ(s->gen_targets.size(), 1u);
  EXPECT_EQ(s->image_labels, (std::vector<int>{-1, -1}));
  EXPECT_EQ(s->targets.size(), s->tokens.size());
  EXPECT_EQ(s->targets[5], 'y');
  EXPECT_EQ(s->targets[13], kEos);

  s = SampleFromManifest((*m)[1], cfg);  // no markers: images first
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->tokens, (std::vector<int32_t>{kBos, kImgStart, kImg, kImg, kImgEnd, 'h', 'i', kEos}));

  s = SampleFromManifest((*m)[2], cfg);  // 1 marker, 2 images
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("markers"), std::string::npos);

  s = SampleFromManifest((*m)[3], cfg);
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_NE(s.status().message().find(dir + "/missing.png"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace braid
