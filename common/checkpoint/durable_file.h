// POSIX file helpers for crash-safe writes: a writer that fsyncs on Close()
// and tracks the crc32 of what it wrote, directory fsync, whole-file reads.
#pragma once

#include <cstdint>
#include <string>

#include "common/base/status.h"

namespace braid {

class DurableWriter {
 public:
  DurableWriter() = default;
  ~DurableWriter();  // closes (without fsync) if Close() was not reached
  DurableWriter(const DurableWriter&) = delete;
  DurableWriter& operator=(const DurableWriter&) = delete;

  // Creates or truncates `path` (mode 0644).
  Status Open(const std::string& path);
  Status Append(const void* data, size_t n);
  // fsync + close. Errors name the file.
  Status Close();

  uint32_t crc32() const { return crc_; }
  uint64_t bytes() const { return bytes_; }

 private:
  std::string path_;
  int fd_ = -1;
  uint32_t crc_ = 0;
  uint64_t bytes_ = 0;
};

// Writes `contents` to `path` and fsyncs it.
Status WriteFileDurably(const std::string& path, const std::string& contents);
// fsync a directory so that renames and creations inside it are durable.
Status FsyncDir(const std::string& dir);
// Replaces `path` atomically with `contents`: a temporary file beside it,
// fsync, rename, fsync of the directory. A crash leaves the old or the new file.
Status ReplaceFileAtomically(const std::string& path, const std::string& contents);
// Keeps only the lines of a JSONL file whose integer "step" is below `step`
// (a resumed run's metrics, ledger and timeline), atomically as above.
// Lines without a step are dropped. A missing file is fine.
Status RewindJsonl(const std::string& path, int64_t step);
// Whole file into memory; NotFound if missing.
StatusOr<std::string> ReadWholeFile(const std::string& path);
uint32_t Crc32Of(const void* data, size_t n);

}  // namespace braid
