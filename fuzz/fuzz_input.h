// Helpers shared by the libFuzzer targets in this folder (and by
// replay_main.cc, which runs the same targets under gcc in ctest).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace braid::fuzz {

// A per-process scratch directory: under /dev/shm when there is one (the
// path-only loaders then read from memory, and fsync is free), else TMPDIR.
// Created on first use, removed at exit.
inline const std::string& ScratchDir() {
  static const std::string dir = [] {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path(ec);
    fs::path d = base / ("braid-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d, ec);
    if (ec) {
      std::fprintf(stderr, "fuzz: cannot create %s: %s\n", d.c_str(), ec.message().c_str());
      std::abort();
    }
    static std::string keep = d.string();
    std::atexit([] {
      std::error_code ec2;
      std::filesystem::remove_all(keep, ec2);
    });
    return d.string();
  }();
  return dir;
}

// Writes the input to ScratchDir()/name (replacing it) and returns the path:
// for loaders whose API takes a path only.
inline std::string WriteInputFile(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = ScratchDir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// A check that stays on in release builds (NDEBUG): a failed property of the
// code under test is a finding, like a crash.
#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

}  // namespace braid::fuzz
