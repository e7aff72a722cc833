// A temporary directory for tests: created with mkdtemp under
// ::testing::TempDir() and removed (recursively) when the object goes away.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace braid::testing_util {

class ScopedTempDir {
 public:
  // prefix: the directory's name before the random suffix, e.g. "braid_idx_".
  explicit ScopedTempDir(const std::string& prefix) : path_(::testing::TempDir() + prefix + "XXXXXX") {
    if (mkdtemp(path_.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed for " << path_;
      created_ = false;
    }
  }
  ~ScopedTempDir() {
    if (!created_) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool created_ = true;
};

}  // namespace braid::testing_util
