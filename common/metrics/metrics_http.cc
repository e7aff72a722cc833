#include "common/metrics/metrics_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <string>

namespace braid {
namespace {

// How long one connection may take to send its request and read the answer.
constexpr auto kConnectionTimeout = std::chrono::seconds(5);
// A request head longer than this is answered from what arrived (400/404).
constexpr size_t kMaxHeadBytes = 8192;

using Clock = std::chrono::steady_clock;

// Waits until `fd` is ready for `events`; false on timeout, error, or when
// `stop_fd` becomes readable.
bool WaitReady(int fd, short events, int stop_fd, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    const int n = poll(p, 2, int(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || p[1].revents != 0) return false;
    return (p[0].revents & events) != 0 || (p[0].revents & (POLLHUP | POLLERR)) != 0;
  }
}

const char* Reason(int code) {
  switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    default: return "Internal Server Error";
  }
}

}  // namespace

Status SplitListenAddress(const std::string& listen, std::string* host, int* port) {
  std::string h, p = listen;
  if (!listen.empty() && listen.front() == '[') {
    const size_t close = listen.find("]:");
    if (close == std::string::npos) return Status::InvalidArgument("metrics: bad listen address \"" + listen + "\"");
    h = listen.substr(1, close - 1);
    p = listen.substr(close + 2);
  } else if (const size_t colon = listen.rfind(':'); colon != std::string::npos) {
    h = listen.substr(0, colon);
    p = listen.substr(colon + 1);
    if (h.find(':') != std::string::npos)
      return Status::InvalidArgument("metrics: bad listen address \"" + listen + "\" (IPv6 needs [ADDR]:PORT)");
  }
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoi(p) > 65535)
    return Status::InvalidArgument("metrics: bad port in listen address \"" + listen + "\"");
  *host = h;
  *port = std::stoi(p);
  return Status::Ok();
}

bool ParseRequestLine(std::string_view head, HttpRequestLine* out) {
  const std::string_view line = head.substr(0, head.find_first_of("\r\n"));
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  if (line.substr(sp2 + 1).substr(0, 5) != "HTTP/") return false;
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  out->method = std::string(line.substr(0, sp1));
  out->path = std::string(target.substr(0, target.find('?')));
  return true;
}

std::string HttpResponse(int code, std::string_view content_type, std::string_view body, bool head_only) {
  std::string r = "HTTP/1.1 " + std::to_string(code) + " " + Reason(code) + "\r\n";
  r += "Content-Type: ";
  r += content_type;
  r += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  if (!head_only) r += body;
  return r;
}

std::string RespondTo(std::string_view head, const std::function<std::string()>& render) {
  constexpr std::string_view kText = "text/plain; charset=utf-8";
  HttpRequestLine req;
  if (!ParseRequestLine(head, &req)) return HttpResponse(400, kText, "bad request\n", false);
  const bool head_only = req.method == "HEAD";
  if (req.method != "GET" && !head_only) return HttpResponse(405, kText, "only GET and HEAD\n", false);
  if (req.path != "/metrics") return HttpResponse(404, kText, "not found: try /metrics\n", head_only);
  try {
    return HttpResponse(200, "text/plain; version=0.0.4; charset=utf-8", render(), head_only);
  } catch (const std::exception& e) {
    return HttpResponse(500, kText, std::string("metrics: ") + e.what() + "\n", head_only);
  }
}

StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(const std::string& listen,
                                                                       std::function<std::string()> render) {
  std::string host;
  int port = 0;
  if (Status s = SplitListenAddress(listen, &host, &port); !s.ok()) return s;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addrs = nullptr;
  const std::string port_text = std::to_string(port);
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port_text.c_str(), &hints, &addrs); rc != 0)
    return Status::Unavailable("metrics: cannot listen on " + listen + ": " + gai_strerror(rc));
  std::unique_ptr<MetricsHttpServer> s(new MetricsHttpServer());
  s->render_ = std::move(render);
  std::string why = "no address";
  for (addrinfo* a = addrs; a != nullptr && s->listen_fd_ < 0; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      why = std::strerror(errno);
      close(fd);
      continue;
    }
    s->listen_fd_ = fd;
  }
  freeaddrinfo(addrs);
  if (s->listen_fd_ < 0) return Status::Unavailable("metrics: cannot listen on " + listen + ": " + why);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len) != 0)
    return Status::Unavailable("metrics: getsockname: " + std::string(std::strerror(errno)));
  s->port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                         : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0)
    return Status::Unavailable("metrics: pipe: " + std::string(std::strerror(errno)));
  s->stop_read_fd_ = pipe_fds[0];
  s->stop_write_fd_ = pipe_fds[1];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kStackBytes);
  const int rc = pthread_create(&s->thread_, &attr, &MetricsHttpServer::ThreadMain, s.get());
  pthread_attr_destroy(&attr);
  if (rc != 0)
    return Status::Unavailable("metrics: cannot start the serving thread: " + std::string(std::strerror(rc)));
  s->thread_started_ = true;
  return s;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (thread_started_) {
    const char byte = 0;
    while (write(stop_write_fd_, &byte, 1) < 0 && errno == EINTR) {
    }
    pthread_join(thread_, nullptr);
  }
  for (int fd : {listen_fd_, stop_read_fd_, stop_write_fd_})
    if (fd >= 0) close(fd);
}

void* MetricsHttpServer::ThreadMain(void* self) {
  pthread_setname_np(pthread_self(), "braid-metrics");
  static_cast<MetricsHttpServer*>(self)->Serve();
  return nullptr;
}

void MetricsHttpServer::Serve() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_read_fd_, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents != 0) return;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      // Out of descriptors and the like: back off instead of spinning.
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
        pollfd stop = {stop_read_fd_, POLLIN, 0};
        if (poll(&stop, 1, 100) > 0) return;
      }
      continue;
    }
    ServeConnection(fd);
    close(fd);
  }
}

void MetricsHttpServer::ServeConnection(int fd) {
  const Clock::time_point deadline = Clock::now() + kConnectionTimeout;
  std::string head;
  char buf[4096];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < kMaxHeadBytes) {
    if (!WaitReady(fd, POLLIN, stop_read_fd_, deadline)) return;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    head.append(buf, size_t(n));
  }
  if (head.empty()) return;
  const std::string response = RespondTo(head, render_);
  for (size_t sent = 0; sent < response.size();) {
    const ssize_t n = send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += size_t(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      if (!WaitReady(fd, POLLOUT, stop_read_fd_, deadline)) return;
    } else {
      return;
    }
  }
  // Unread request bytes would make close() send a reset, which can discard
  // the response at the client before it reads it.
  while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
}

}  // namespace braid
