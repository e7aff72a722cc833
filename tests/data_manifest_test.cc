#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "common/data/manifest.h"
#include "tests/temp_dir.h"

namespace braid {
namespace {

TEST(DataManifest, ParsesAndResolvesPaths) {
  const testing_util::ScopedTempDir tmp("braid_manifest_");
  const std::string& dir = tmp.path();
  const std::string path = dir + "/m.jsonl";
  std::ofstream(path) << R"({"id": 3, "text": "A <image> here.", "images": ["img/a.png"], "generate": ["/abs/b.pgm"]})"
                      << "\n\n   \n"
                      << R"({"id": 0, "text": "plain"})" << "\n";
  StatusOr<std::vector<ManifestSample>> m = LoadJsonlManifest(path);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].id, 3);
  EXPECT_EQ((*m)[0].text, "A <image> here.");
  EXPECT_EQ((*m)[0].images, std::vector<std::string>{dir + "/img/a.png"});
  EXPECT_EQ((*m)[0].generate, std::vector<std::string>{"/abs/b.pgm"});
  EXPECT_EQ((*m)[1].id, 0);
  EXPECT_TRUE((*m)[1].images.empty());
}

TEST(DataManifest, ErrorsNameFileLineAndField) {
  const testing_util::ScopedTempDir tmp("braid_manifest_");
  const std::string& dir = tmp.path();
  struct Case {
    std::string line, expect;
  };
  const std::vector<Case> cases = {
      {R"({"id": 1, "text": "x")", "invalid JSON"},
      {R"([1, 2])", "expected a JSON object"},
      {R"({"id": 1, "text": "x", "caption": "y"})", "unknown field `caption`"},
      {R"({"text": "x"})", "field `id`: required"},
      {R"({"id": -1, "text": "x"})", "field `id`: expected non-negative integer"},
      {R"({"id": 1.5, "text": "x"})", "field `id`: expected non-negative integer"},
      {R"({"id": "1", "text": "x"})", "field `id`"},
      {R"({"id": 1})", "field `text`: required"},
      {R"({"id": 1, "text": 5})", "field `text`: expected string"},
      {R"({"id": 1, "text": "x", "images": "a.png"})", "field `images`: expected array of strings"},
      {R"({"id": 1, "text": "x", "generate": [1]})", "field `generate[0]`"},
      {R"({"id": 0, "text": "dup"})", "duplicate id 0 (first on line 1)"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string path = dir + "/bad" + std::to_string(i) + ".jsonl";
    std::ofstream(path) << R"({"id": 0, "text": "ok"})" << "\n\n" << cases[i].line << "\n";
    StatusOr<std::vector<ManifestSample>> m = LoadJsonlManifest(path);
    ASSERT_FALSE(m.ok()) << cases[i].line;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    const std::string msg = m.status().message();
    EXPECT_EQ(msg.rfind(path + ":3: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(cases[i].expect), std::string::npos) << msg;
  }
  EXPECT_EQ(LoadJsonlManifest(dir + "/none.jsonl").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace braid
