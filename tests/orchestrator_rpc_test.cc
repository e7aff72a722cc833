// common/rpc and common/metrics helpers used by the orchestrator: status
// mapping, address files, the shutdown signal, the metrics endpoint.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/metrics/metrics_server.h"
#include "common/rpc/address_file.h"
#include "common/rpc/server.h"
#include "common/rpc/shutdown_signal.h"
#include "common/rpc/status_convert.h"
#include "tests/temp_dir.h"

namespace braid::rpc {
namespace {

TEST(RpcStatusTest, CodesMapOneToOne) {
  for (StatusCode c : {StatusCode::kInvalidArgument, StatusCode::kNotFound, StatusCode::kAlreadyExists,
                       StatusCode::kFailedPrecondition, StatusCode::kOutOfRange, StatusCode::kDataLoss,
                       StatusCode::kUnavailable, StatusCode::kDeadlineExceeded, StatusCode::kInternal,
                       StatusCode::kUnimplemented}) {
    const Status back = FromGrpcStatus(ToGrpcStatus(Status(c, "m")));
    EXPECT_EQ(back.code(), c);
    EXPECT_EQ(back.message(), "m");
  }
  EXPECT_EQ(ToGrpcStatus(Status(StatusCode::kFailedPrecondition, "x")).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::CANCELLED, "c")).code(), StatusCode::kInternal);
}

TEST(RpcAddressTest, AddressFileIsWrittenAtomicallyAndAwaited) {
  testing_util::ScopedTempDir dir("braid_addr_");
  const std::string path = dir.path() + "/a.addr";
  EXPECT_EQ(ReadAddressFile(path, 0).status().code(), StatusCode::kDeadlineExceeded);
  std::thread w([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(WriteAddressFile(path, "127.0.0.1:1234").ok());
  });
  StatusOr<std::string> a = ReadAddressFile(path, 10);
  w.join();
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, "127.0.0.1:1234");
  EXPECT_EQ(DialAddress("0.0.0.0:0", 77), "127.0.0.1:77");
  EXPECT_EQ(DialAddress("10.1.2.3:0", 77), "10.1.2.3:77");
  std::string host;
  int port = 0;
  EXPECT_FALSE(SplitHostPort("nohost", &host, &port).ok());
  EXPECT_FALSE(SplitHostPort("h:70000", &host, &port).ok());
}

TEST(RpcShutdownSignalTest, SigtermWakesWaiters) {
  ShutdownSignal s;
  ASSERT_TRUE(s.Install().ok());
  ShutdownSignal second;
  EXPECT_EQ(second.Install().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(s.WaitFor(0.01));
  std::thread t([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::kill(::getpid(), SIGTERM);
  });
  EXPECT_TRUE(s.WaitFor(10));
  t.join();
  EXPECT_TRUE(s.requested());
  EXPECT_EQ(s.signal_number(), SIGTERM);
}

TEST(MetricsServerTest, ServesBraidUpOnAnyPort) {
  StatusOr<std::unique_ptr<MetricsServer>> m = MetricsServer::Start("127.0.0.1:0", "orchestrator");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_GT((*m)->bound_port(), 0);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*m)->bound_port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string req = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), ssize_t(req.size()));
  std::string body;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) body.append(buf, size_t(n));
  ::close(fd);
  EXPECT_NE(body.find("braid_up{role=\"orchestrator\"} 1"), std::string::npos) << body;

  StatusOr<std::unique_ptr<MetricsServer>> off = MetricsServer::Start("");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE((*off)->serving());
  EXPECT_EQ((*off)->bound_port(), 0);
}

}  // namespace
}  // namespace braid::rpc
