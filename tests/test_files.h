// Files of the source tree for tests (job specs under tests/data, say). Needs
// BRAID_SOURCE_DIR (target_compile_definitions in tests/*.cmake): ctest runs
// the tests in the source root, but a test binary may be run from anywhere.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#ifndef BRAID_SOURCE_DIR
#error "tests/test_files.h needs BRAID_SOURCE_DIR: target_compile_definitions(<test> PRIVATE BRAID_SOURCE_DIR=...)"
#endif

namespace braid::testing_util {

// The absolute path of `relative_path` (e.g. "tests/data/jobs/tiny.yaml").
inline std::string TestFilePath(const std::string& relative_path) {
  return std::string(BRAID_SOURCE_DIR) + "/" + relative_path;
}

// The whole file; a test failure (and "") if it cannot be read, so a missing
// file cannot pass for an empty one.
inline std::string ReadTestFile(const std::string& relative_path) {
  const std::string path = TestFilePath(relative_path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return "";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// tests/data/jobs/tiny.yaml: the job most tests submit.
inline std::string TinyJobYaml() { return ReadTestFile("tests/data/jobs/tiny.yaml"); }

}  // namespace braid::testing_util
