#include "common/checkpoint/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace braid {

namespace {

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// zlib's crc32 takes uInt lengths; feed large buffers in pieces.
uint32_t Crc32Update(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const Bytef*>(data);
  uLong c = crc;
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    c = ::crc32(c, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(c);
}

}  // namespace

DurableWriter::~DurableWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status DurableWriter::Open(const std::string& path) {
  if (fd_ >= 0) return Status::FailedPrecondition("DurableWriter already open on " + path_);
  path_ = path;
  crc_ = 0;
  bytes_ = 0;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return Status::Unavailable(Errno("cannot create", path));
  return Status::Ok();
}

Status DurableWriter::Append(const void* data, size_t n) {
  if (fd_ < 0) return Status::FailedPrecondition("DurableWriter not open (" + path_ + ")");
  crc_ = Crc32Update(crc_, data, n);
  bytes_ += n;
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::Unavailable(Errno("write failed on", path_));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status DurableWriter::Close() {
  if (fd_ < 0) return Status::FailedPrecondition("DurableWriter not open (" + path_ + ")");
  const int fd = fd_;
  fd_ = -1;
  if (::fsync(fd) != 0) {
    Status st = Status::Unavailable(Errno("fsync failed on", path_));
    ::close(fd);
    return st;
  }
  if (::close(fd) != 0) return Status::Unavailable(Errno("close failed on", path_));
  return Status::Ok();
}

Status WriteFileDurably(const std::string& path, const std::string& contents) {
  DurableWriter w;
  RETURN_IF_ERROR(w.Open(path));
  RETURN_IF_ERROR(w.Append(contents.data(), contents.size()));
  return w.Close();
}

Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::Unavailable(Errno("cannot open directory", dir));
  const int rc = ::fsync(fd);
  Status st = rc == 0 ? Status::Ok() : Status::Unavailable(Errno("fsync failed on directory", dir));
  ::close(fd);
  return st;
}

StatusOr<std::string> ReadWholeFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no such file: " + path);
    return Status::Unavailable(Errno("cannot open", path));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = Status::Unavailable(Errno("cannot stat", path));
    ::close(fd);
    return s;
  }
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof(buf));
    if (r < 0) {
      if (errno == EINTR) continue;
      Status s = Status::Unavailable(Errno("read failed on", path));
      ::close(fd);
      return s;
    }
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  return out;
}

uint32_t Crc32Of(const void* data, size_t n) { return Crc32Update(0, data, n); }

Status ReplaceFileAtomically(const std::string& path, const std::string& contents) {
  namespace fs = std::filesystem;
  const std::string tmp = path + ".tmp";
  RETURN_IF_ERROR(WriteFileDurably(tmp, contents));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = Status::Unavailable(Errno("cannot rename " + tmp + " to", path));
    ::unlink(tmp.c_str());
    return s;
  }
  const fs::path parent = fs::path(path).parent_path();
  return FsyncDir(parent.empty() ? "." : parent.string());
}

Status RewindJsonl(const std::string& path, int64_t step) {
  StatusOr<std::string> text = ReadWholeFile(path);
  if (text.status().code() == StatusCode::kNotFound) return Status::Ok();
  if (!text.ok()) return text.status();
  std::string kept;
  size_t begin = 0;
  while (begin < text->size()) {
    size_t end = text->find('\n', begin);
    if (end == std::string::npos) end = text->size();
    const std::string_view line(text->data() + begin, end - begin);
    begin = end + 1;
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("step") && j["step"].is_number_integer() && j["step"].get<int64_t>() < step) {
      kept.append(line);
      kept.push_back('\n');
    }
  }
  if (kept == *text) return Status::Ok();
  return ReplaceFileAtomically(path, kept);
}

}  // namespace braid
