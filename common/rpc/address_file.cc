#include "common/rpc/address_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/base/clock.h"

namespace braid::rpc {

Status WriteAddressFile(const std::string& path, const std::string& host_port) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("cannot create " + tmp + ": " + std::strerror(errno));
  const std::string text = host_port + "\n";
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::Unavailable("cannot write " + tmp + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status::Unavailable("cannot rename " + tmp + " to " + path + ": " + err);
  }
  return Status::Ok();
}

StatusOr<std::string> ReadAddressFile(const std::string& path, double wait_seconds) {
  const double deadline = NowSeconds() + wait_seconds;
  while (true) {
    std::ifstream in(path);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      std::string s = ss.str();
      const size_t b = s.find_first_not_of(" \t\r\n");
      const size_t e = s.find_last_not_of(" \t\r\n");
      if (b != std::string::npos) return s.substr(b, e - b + 1);
    }
    if (NowSeconds() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", wait_seconds);
  return Status(StatusCode::kDeadlineExceeded, "address file " + path + " did not appear within " + buf + " s");
}

}  // namespace braid::rpc
