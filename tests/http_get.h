// A plain HTTP/1.0 GET for tests that read a process's /metrics page
// without an HTTP client library.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "common/rpc/server.h"

namespace braid::testing_util {

// Everything a GET of http://ADDR/metrics returns (headers included), or "".
inline std::string HttpGetMetrics(const std::string& addr) {
  std::string host;
  int port = 0;
  if (!rpc::SplitHostPort(addr, &host, &port).ok()) return "";
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    const std::string req = "GET /metrics HTTP/1.0\r\nHost: " + addr + "\r\n\r\n";
    if (write(fd, req.data(), req.size()) == ssize_t(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
    }
  }
  close(fd);
  return out;
}

}  // namespace braid::testing_util
