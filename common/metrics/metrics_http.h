// The HTTP side of /metrics: one thread of our own, with an explicit 8 MiB
// stack, that accepts connections one at a time and answers
// GET /metrics (and HEAD) with a page rendered on that thread.
//
// Why not prometheus-cpp's Exposer (civetweb 1.15): civetweb creates its
// master and worker threads with a fixed 100 KiB stack (Debian's build:
// USE_STACK_SIZE 102400, `pthread_attr_setstacksize(.., 0x19000)`; 1.15 has
// no option to change it: mg_get_valid_options lists none, and the Exposer
// passes only civetweb options), and glibc carves each thread's static TLS
// out of that stack. Static TLS measured with `readelf -lW <lib> | grep TLS`:
// OpenBLAS 0xf000 (60 KiB), cudart_static 0x2000 (8 KiB, in the executable),
// cuBLASLt 0x17020 (92 KiB). OpenBLAS + cudart leaves ~30 KiB, and a scrape
// overflowed into the guard page (SIGSEGV in vsnprintf); with cuBLASLt too
// (braid_ops_cuda) the TLS alone exceeds 100 KiB and civetweb cannot start
// a thread at all ("null context when constructing CivetServer").
// pthread_setattr_default_np does not help: it only sets the default for
// threads created without an explicit stack size, and civetweb sets one.
// tests/metrics_cuda_test.cc and tests/metrics_http_test.cc check this.
//
// Threads: Start() and the destructor on one thread; `render` runs on the
// serving thread and must be thread-safe against the rest of the process.
#pragma once

#include <pthread.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/base/status.h"

namespace braid {

// "HOST:PORT", "[V6ADDR]:PORT" or "PORT" (every interface) split into host
// ("" = every interface) and port (0..65535; 0 = any free port).
Status SplitListenAddress(const std::string& listen, std::string* host, int* port);

// The method and path (query string dropped) of an HTTP request head's first
// line ("GET /metrics?x=1 HTTP/1.1"); false when it is not one.
struct HttpRequestLine {
  std::string method;
  std::string path;
};
bool ParseRequestLine(std::string_view head, HttpRequestLine* out);

// A complete HTTP/1.1 response that closes the connection: status line,
// Content-Type, Content-Length, Connection: close, and the body unless
// `head_only` (a HEAD request still gets the body's length).
std::string HttpResponse(int code, std::string_view content_type, std::string_view body, bool head_only);

// The response to one request head: 200 with render() for GET/HEAD /metrics,
// 404 for any other path, 405 for any other method, 400 when malformed.
std::string RespondTo(std::string_view head, const std::function<std::string()>& render);

class MetricsHttpServer {
 public:
  // The serving thread's stack: ample for any page, and far above any static
  // TLS (the 160 KiB above) wherever `ulimit -s` puts the default.
  static constexpr size_t kStackBytes = size_t(8) << 20;

  // Binds `listen` (SplitListenAddress) and starts serving; Unavailable when
  // it cannot be bound, InvalidArgument when it is not an address.
  static StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& listen,
                                                            std::function<std::string()> render);
  // Stops at once (a connection in hand is dropped) and joins the thread.
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;
  static void* ThreadMain(void* self);
  void Serve();
  void ServeConnection(int fd);

  std::function<std::string()> render_;
  int listen_fd_ = -1;
  int stop_read_fd_ = -1;  // a pipe: the destructor writes, poll() wakes
  int stop_write_fd_ = -1;
  int port_ = 0;
  pthread_t thread_{};
  bool thread_started_ = false;
};

}  // namespace braid
