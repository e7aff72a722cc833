// The HTTP side of /metrics (common/metrics/metrics_http.h): address and
// request parsing, the responses, and a server whose serving thread has a
// real stack (civetweb's 100 KiB ones overflowed with the CUDA libraries'
// static TLS; tests/metrics_cuda_test.cc checks that case where it builds).
#include "common/metrics/metrics_http.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "common/metrics/metrics_server.h"
#include "tests/http_get.h"

namespace braid {
namespace {

using testing_util::HttpGetMetrics;

TEST(MetricsHttpTest, SplitsListenAddresses) {
  std::string host;
  int port = -1;
  ASSERT_TRUE(SplitListenAddress("127.0.0.1:9100", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9100);
  ASSERT_TRUE(SplitListenAddress("localhost:0", &host, &port).ok());
  EXPECT_EQ(host, "localhost");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(SplitListenAddress("[::1]:65535", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 65535);
  ASSERT_TRUE(SplitListenAddress("9100", &host, &port).ok());
  EXPECT_EQ(host, "");
  ASSERT_TRUE(SplitListenAddress(":9100", &host, &port).ok());
  EXPECT_EQ(host, "");
  for (const char* bad : {"", "host:", "host:65536", "host:12x", "::1:80", "[::1]80", "host:-1", "h:123456"})
    EXPECT_EQ(SplitListenAddress(bad, &host, &port).code(), StatusCode::kInvalidArgument) << bad;
}

TEST(MetricsHttpTest, ParsesRequestLines) {
  HttpRequestLine r;
  ASSERT_TRUE(ParseRequestLine("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r));
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/metrics");
  ASSERT_TRUE(ParseRequestLine("HEAD /metrics?name[]=up HTTP/1.0\r\n\r\n", &r));
  EXPECT_EQ(r.method, "HEAD");
  EXPECT_EQ(r.path, "/metrics");
  ASSERT_TRUE(ParseRequestLine("GET / HTTP/1.1", &r));  // no line end yet
  EXPECT_EQ(r.path, "/");
  for (const char* bad : {"", "GET", "GET /metrics", "GET  HTTP/1.1", " /metrics HTTP/1.1", "GET /metrics FTP/1\r\n"})
    EXPECT_FALSE(ParseRequestLine(bad, &r)) << bad;
}

TEST(MetricsHttpTest, RespondsByMethodAndPath) {
  const auto render = [] { return std::string("up 1\n"); };
  EXPECT_EQ(RespondTo("GET /metrics HTTP/1.1\r\n\r\n", render),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: 5\r\nConnection: close\r\n\r\nup 1\n");
  const std::string head = RespondTo("HEAD /metrics HTTP/1.1\r\n\r\n", render);
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(head.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");  // no body
  EXPECT_EQ(RespondTo("GET /other HTTP/1.1\r\n\r\n", render).rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_EQ(RespondTo("POST /metrics HTTP/1.1\r\n\r\n", render).rfind("HTTP/1.1 405 ", 0), 0u);
  EXPECT_EQ(RespondTo("garbage\r\n\r\n", render).rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
  const std::string failed =
      RespondTo("GET /metrics HTTP/1.1\r\n\r\n", []() -> std::string { throw std::runtime_error("boom"); });
  EXPECT_EQ(failed.rfind("HTTP/1.1 500 ", 0), 0u);
  EXPECT_NE(failed.find("metrics: boom"), std::string::npos);
}

// A render that needs far more stack than civetweb's 100 KiB threads had.
std::string DeepRender() {
  char big[512 << 10];
  volatile char* p = big;
  for (size_t i = 0; i < sizeof big; i += 4096) p[i] = char('a' + i % 26);
  return "deep " + std::to_string(int(p[4096])) + "\n";
}

TEST(MetricsHttpTest, ServesScrapesOnAThreadWithARealStack) {
  StatusOr<std::unique_ptr<MetricsHttpServer>> s = MetricsHttpServer::Start("127.0.0.1:0", DeepRender);
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_GT((*s)->port(), 0);
  const std::string addr = "127.0.0.1:" + std::to_string((*s)->port());
  for (int i = 0; i < 20; ++i) {
    const std::string page = HttpGetMetrics(addr);
    EXPECT_EQ(page.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << page;
    EXPECT_NE(page.find("\r\n\r\ndeep " + std::to_string('a' + 4096 % 26) + "\n"), std::string::npos) << page;
  }
}

TEST(MetricsHttpTest, RefusesAPortInUseAndABadAddress) {
  StatusOr<std::unique_ptr<MetricsHttpServer>> a = MetricsHttpServer::Start("127.0.0.1:0", DeepRender);
  ASSERT_TRUE(a.ok());
  StatusOr<std::unique_ptr<MetricsHttpServer>> b =
      MetricsHttpServer::Start("127.0.0.1:" + std::to_string((*a)->port()), DeepRender);
  EXPECT_EQ(b.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(MetricsHttpServer::Start("127.0.0.1", DeepRender).status().code(), StatusCode::kInvalidArgument);
}

TEST(MetricsHttpTest, StopsAtOnceWithAnIdleClientConnected) {
  StatusOr<std::unique_ptr<MetricsHttpServer>> s = MetricsHttpServer::Start("127.0.0.1:0", DeepRender);
  ASSERT_TRUE(s.ok());
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t((*s)->port()));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
  usleep(50000);  // the server is now waiting for this client's request
  const auto t0 = std::chrono::steady_clock::now();
  s->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  close(fd);
}

TEST(MetricsHttpTest, MetricsServerServesAndStopsServing) {
  StatusOr<std::unique_ptr<MetricsServer>> m = MetricsServer::Start("127.0.0.1:0", "encoder");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_TRUE((*m)->serving());
  const std::string addr = "127.0.0.1:" + std::to_string((*m)->bound_port());
  const std::string page = HttpGetMetrics(addr);
  EXPECT_NE(page.find("# HELP braid_up "), std::string::npos) << page;
  EXPECT_NE(page.find(R"(braid_up{role="encoder"} 1)"), std::string::npos) << page;
  EXPECT_NE(page.find("process_start_time_seconds"), std::string::npos) << page;
  (*m)->StopServing();
  EXPECT_FALSE((*m)->serving());
  EXPECT_EQ(HttpGetMetrics(addr), "");  // refused
  EXPECT_EQ(MetricsServer::Start("nonsense").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace braid
