#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "common/data/fortunes.h"
#include "tests/temp_dir.h"

namespace braid {
namespace {

TEST(DataFortunes, NormaliseSplitAndFilter) {
  const testing_util::ScopedTempDir tmp("braid_fortunes_");
  const std::string& dir = tmp.path();
  std::ofstream(dir + "/b") << "Second\tfile   one.\n%\n";
  std::ofstream(dir + "/a") << "  Hello,\n\n   world!  \n%\n%\nCaf\xc3\xa9 time\x01.\n%\n"
                            << std::string(100, 'x') << "\n%\nlast one";
  std::ofstream(dir + "/a.dat") << "binary junk\n%\nshould be skipped\n";
  std::ofstream(dir + "/a.u8") << "skipped too\n";
  std::filesystem::create_directory(dir + "/off");
  std::ofstream(dir + "/off/rude") << "offensive\n%\n";

  StatusOr<std::vector<std::string>> f = LoadFortunes(dir, 50);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(*f, (std::vector<std::string>{"Hello, world!", "Caf time.", "last one", "Second file one."}));

  // One file; the max_bytes limit drops the long one only when it is too long.
  f = LoadFortunes(dir + "/a", 100);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->size(), 4u);
  EXPECT_EQ(LoadFortunes(dir + "/missing", 10).status().code(), StatusCode::kNotFound);
}

TEST(DataFortunes, RealCorpus) {
  const std::string dir = "/usr/share/games/fortunes";
  // scripts/setup.sh installs fortunes: its absence is a failure.
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir << ": run scripts/setup.sh";
  StatusOr<std::vector<std::string>> f = LoadFortunes(dir, 256);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_GT(f->size(), 1000u);
  for (const std::string& s : *f) {
    ASSERT_FALSE(s.empty());
    ASSERT_LE(s.size(), 256u);
    for (char c : s) ASSERT_TRUE(c >= 32 && c <= 126) << s;
    ASSERT_EQ(s.find("  "), std::string::npos);
  }
  StatusOr<std::vector<std::string>> again = LoadFortunes(dir, 256);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*f, *again);
}

}  // namespace
}  // namespace braid
