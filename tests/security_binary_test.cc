// RPC security end to end with the real binaries (docs/RELIABILITY.md,
// "Security"): a token-protected braid-orchestrator (no token and a wrong
// token get UNAUTHENTICATED and show in its /metrics; the right token and
// health checks work; the CLI's --token-file), a worker with a wrong token
// that cannot register (exit 2, saying why), TLS with certificates from
// `braid certs` (a plaintext client cannot connect, a TLS client with the CA
// can, and so can a TLS worker), and the loopback-only binding rule.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "braid/v1/job.grpc.pb.h"
#include "common/base/clock.h"
#include "common/rpc/address_file.h"
#include "common/rpc/client_context.h"
#include "common/rpc/security.h"
#include "common/rpc/server.h"
#include "tests/fork_child.h"
#include "tests/temp_dir.h"
#include "tests/http_get.h"

extern char** environ;

namespace braid {
namespace {

namespace fs = std::filesystem;
namespace pb = braid::v1;
using testing_util::ChildProcess;

// The test's environment without BRAID_* (so an outer BRAID_TOKEN cannot
// leak in), plus `extra` ("NAME=value").
std::vector<std::string> ChildEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "BRAID_", 6) != 0) env.emplace_back(*e);
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// Runs args[0] with `env`, stdout and stderr appended to `log`.
ChildProcess Spawn(const std::vector<std::string>& args, const std::vector<std::string>& env_extra,
                   const std::string& log) {
  // Everything the child needs is built here: after fork it only calls
  // async-signal-safe functions (the test process has gRPC threads).
  auto strings = std::make_shared<std::pair<std::vector<std::string>, std::vector<std::string>>>(
      args, ChildEnv(env_extra));
  auto argv = std::make_shared<std::vector<char*>>();
  auto envp = std::make_shared<std::vector<char*>>();
  for (std::string& a : strings->first) argv->push_back(a.data());
  argv->push_back(nullptr);
  for (std::string& e : strings->second) envp->push_back(e.data());
  envp->push_back(nullptr);
  const std::string log_path = log;
  return ChildProcess::Fork([strings, argv, envp, &log_path]() -> int {
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    signal(SIGPIPE, SIG_DFL);
    execve((*argv)[0], argv->data(), envp->data());
    return 127;
  });
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a command to completion (60 s at most); its exit code, its output in *out.
int RunToEnd(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& log,
        std::string* out = nullptr) {
  fs::remove(log);
  ChildProcess p = Spawn(args, env, log);
  const int rc = p.Wait(60);
  if (out) *out = ReadAll(log);
  return rc;
}

using testing_util::HttpGetMetrics;

// Polls f() every 100 ms for up to `seconds`.
template <typename F>
bool Eventually(double seconds, F f) {
  const double deadline = NowSeconds() + seconds;
  while (NowSeconds() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return f();
}

grpc::Status ListJobs(const std::string& address, const rpc::RpcSecurity& s) {
  auto stub = pb::JobService::NewStub(rpc::MakeChannel(address, s));
  pb::ListJobsReply reply;
  return stub->ListJobs(rpc::MakeContext(5).get(), pb::ListJobsRequest(), &reply);
}

grpc::Status HealthCheck(const std::string& address, const rpc::RpcSecurity& s) {
  grpc::GenericStub stub(rpc::MakeChannel(address, s));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::ByteBuffer request, response;
  grpc::Slice empty;
  request = grpc::ByteBuffer(&empty, 1);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status st) { done.set_value(st); });
  return done.get_future().get();
}

rpc::RpcSecurity Security(const std::string& token, const std::string& ca_file = "") {
  rpc::RpcSecurity s;
  s.token = token;
  s.tls_ca = ca_file;
  if (!ca_file.empty()) s.ca_pem = ReadAll(ca_file);
  return s;
}

class SecurityBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    token_file_ = dir_.path() + "/token";
    std::ofstream(token_file_) << "right-token\n";
    chmod(token_file_.c_str(), 0600);
  }

  // Starts braid-orchestrator with `extra` flags; false if it did not come up.
  bool StartOrchestrator(const std::vector<std::string>& extra, const std::string& listen = "127.0.0.1:0") {
    std::vector<std::string> args = {BRAID_ORCHESTRATOR_BIN,     "--listen",       listen,
                                     "--address-file",           dir_.path() + "/orch.addr",
                                     "--state-dir",              dir_.path() + "/state",
                                     "--runs-root",              dir_.path(),
                                     "--metrics-listen",         "127.0.0.1:0",
                                     "--metrics-address-file",   dir_.path() + "/orch.metrics",
                                     "--reorderer",              "127.0.0.1:1"};
    args.insert(args.end(), extra.begin(), extra.end());
    orch_ = Spawn(args, {}, dir_.path() + "/orch.log");
    StatusOr<std::string> addr = rpc::ReadAddressFile(dir_.path() + "/orch.addr", 15);
    StatusOr<std::string> metrics = rpc::ReadAddressFile(dir_.path() + "/orch.metrics", 15);
    if (!addr.ok() || !metrics.ok()) return false;
    address_ = *addr;
    metrics_address_ = *metrics;
    return true;
  }
  std::string Metrics() { return HttpGetMetrics(metrics_address_); }
  std::string Certs(const std::string& name, const std::vector<std::string>& extra = {}) {
    const std::string d = dir_.path() + "/" + name;
    std::vector<std::string> args = {BRAID_CLI_BIN, "certs", d};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string out;
    EXPECT_EQ(RunToEnd(args, {}, dir_.path() + "/certs.log", &out), 0) << out;
    return d;
  }
  void TearDown() override {
    if (orch_.started()) {
      orch_.Signal(SIGTERM);
      orch_.Wait(10);
    }
  }

  testing_util::ScopedTempDir dir_{"braid_security_"};
  std::string token_file_;
  ChildProcess orch_;
  std::string address_, metrics_address_;
};

TEST_F(SecurityBinaryTest, JobApiNeedsTheToken) {
  ASSERT_TRUE(StartOrchestrator({"--token-file", token_file_})) << ReadAll(dir_.path() + "/orch.log");
  grpc::Status none = ListJobs(address_, Security(""));
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << none.error_message();
  grpc::Status wrong = ListJobs(address_, Security("wrong-token"));
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED) << wrong.error_message();
  grpc::Status right = ListJobs(address_, Security("right-token"));
  EXPECT_TRUE(right.ok()) << right.error_message();
  grpc::Status health = HealthCheck(address_, Security(""));
  EXPECT_TRUE(health.ok()) << health.error_message();

  const std::string m = Metrics();
  EXPECT_NE(m.find(R"(braid_auth_failures_total{method="/braid.v1.JobService/ListJobs"} 2)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(braid_rpc_requests_total{code="UNAUTHENTICATED",method="/braid.v1.JobService/ListJobs"} 2)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(R"(braid_rpc_requests_total{code="OK",method="/braid.v1.JobService/ListJobs"} 1)"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find(R"(braid_auth_failures_total{method="/grpc.health.v1.Health/Check"})"), std::string::npos) << m;

  // The CLI: --token-file, BRAID_TOKEN, and a clear error without either.
  std::string out;
  const std::string log = dir_.path() + "/cli.log";
  EXPECT_EQ(RunToEnd({BRAID_CLI_BIN, "list", "--orchestrator", address_}, {}, log, &out), 1) << out;
  EXPECT_NE(out.find("no bearer token"), std::string::npos) << out;
  EXPECT_EQ(RunToEnd({BRAID_CLI_BIN, "list", "--orchestrator", address_, "--token-file", token_file_}, {}, log, &out), 0)
      << out;
  EXPECT_EQ(RunToEnd({BRAID_CLI_BIN, "list", "--orchestrator", address_}, {"BRAID_TOKEN=right-token"}, log, &out), 0)
      << out;
  EXPECT_EQ(RunToEnd({BRAID_CLI_BIN, "list", "--orchestrator", address_}, {"BRAID_TOKEN=nope"}, log, &out), 1) << out;
  EXPECT_NE(out.find("invalid bearer token"), std::string::npos) << out;
  EXPECT_EQ(RunToEnd({BRAID_CLI_BIN, "list", "--orchestrator", address_, "--token-file", dir_.path() + "/missing"}, {},
                log, &out),
            2)
      << out;
  EXPECT_NE(out.find(dir_.path() + "/missing"), std::string::npos) << out;
}

TEST_F(SecurityBinaryTest, WorkerWithAWrongTokenCannotRegister) {
  ASSERT_TRUE(StartOrchestrator({"--token-file", token_file_})) << ReadAll(dir_.path() + "/orch.log");
  const std::string bad_log = dir_.path() + "/bad-worker.log";
  ChildProcess bad = Spawn({BRAID_ENCODER_WORKER_BIN, "--orchestrator", address_, "--metrics-listen", ""},
                           {"BRAID_TOKEN=wrong-token"}, bad_log);
  EXPECT_EQ(bad.Wait(30), 2) << ReadAll(bad_log);
  const std::string said = ReadAll(bad_log);
  EXPECT_NE(said.find("refused registration: UNAUTHENTICATED"), std::string::npos) << said;
  EXPECT_NE(said.find("BRAID_TOKEN"), std::string::npos) << said;
  std::string m = Metrics();
  EXPECT_NE(m.find(R"(braid_workers{role="encoder",state="idle"} 0)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(braid_auth_failures_total{method="/braid.v1.WorkerRegistry/RegisterWorker"} 1)"),
            std::string::npos)
      << m;

  // The same worker with the right token (BRAID_TOKEN_FILE) registers.
  const std::string good_log = dir_.path() + "/good-worker.log";
  ChildProcess good = Spawn({BRAID_ENCODER_WORKER_BIN, "--orchestrator", address_, "--metrics-listen", ""},
                            {"BRAID_TOKEN_FILE=" + token_file_}, good_log);
  EXPECT_TRUE(Eventually(20, [&] {
    return Metrics().find(R"(braid_workers{role="encoder",state="idle"} 1)") != std::string::npos;
  })) << ReadAll(good_log);
  good.Signal(SIGTERM);
  EXPECT_EQ(good.Wait(15), 0) << ReadAll(good_log);
}

TEST_F(SecurityBinaryTest, TlsRefusesPlaintextAndServesTheCa) {
  const std::string certs = Certs("certs", {"--san", "braid-orchestrator.example"});
  ASSERT_TRUE(StartOrchestrator({"--token-file", token_file_, "--tls-cert", certs + "/orchestrator.pem",
                                 "--tls-key", certs + "/orchestrator.key", "--tls-ca", certs + "/ca.pem"}))
      << ReadAll(dir_.path() + "/orch.log");
  grpc::Status plain = ListJobs(address_, Security("right-token"));
  EXPECT_FALSE(plain.ok());
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::UNAVAILABLE) << plain.error_message();
  grpc::Status plain_health = HealthCheck(address_, Security(""));
  EXPECT_FALSE(plain_health.ok());

  grpc::Status tls = ListJobs(address_, Security("right-token", certs + "/ca.pem"));
  EXPECT_TRUE(tls.ok()) << tls.error_message();
  grpc::Status tls_no_token = ListJobs(address_, Security("", certs + "/ca.pem"));
  EXPECT_EQ(tls_no_token.error_code(), grpc::StatusCode::UNAUTHENTICATED) << tls_no_token.error_message();

  // A CA that did not sign the server's certificate is not trusted.
  const std::string other = Certs("other");
  EXPECT_FALSE(ListJobs(address_, Security("right-token", other + "/ca.pem")).ok());

  std::string out;
  const std::string log = dir_.path() + "/cli.log";
  EXPECT_EQ(RunToEnd({BRAID_CLI_BIN, "list", "--orchestrator", address_, "--token-file", token_file_, "--tls-ca",
                 certs + "/ca.pem"},
                {}, log, &out),
            0)
      << out;
  EXPECT_EQ(RunToEnd({BRAID_CLI_BIN, "list", "--orchestrator", address_, "--token-file", token_file_}, {}, log, &out), 1)
      << out;

  // A worker over TLS, with its own certificate as the client certificate.
  const std::string wlog = dir_.path() + "/tls-worker.log";
  ChildProcess worker = Spawn({BRAID_ENCODER_WORKER_BIN, "--orchestrator", address_, "--metrics-listen", "",
                               "--tls-ca", certs + "/ca.pem", "--tls-cert", certs + "/worker.pem", "--tls-key",
                               certs + "/worker.key"},
                              {"BRAID_TOKEN_FILE=" + token_file_}, wlog);
  EXPECT_TRUE(Eventually(20, [&] {
    return Metrics().find(R"(braid_workers{role="encoder",state="idle"} 1)") != std::string::npos;
  })) << ReadAll(wlog);
  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(15), 0) << ReadAll(wlog);
}

TEST_F(SecurityBinaryTest, CertsCommand) {
  const std::string d = Certs("c", {"--san", "node-7.cluster", "--san", "10.1.2.3"});
  for (const char* name : {"ca", "orchestrator", "reorderer", "worker", "client"}) {
    struct stat key {}, cert {};
    ASSERT_EQ(stat((d + "/" + name + ".key").c_str(), &key), 0) << name;
    ASSERT_EQ(stat((d + "/" + name + ".pem").c_str(), &cert), 0) << name;
    EXPECT_EQ(key.st_mode & 0777, 0600u) << name;
    EXPECT_EQ(cert.st_mode & 0077, 0044u) << name;
  }
  EXPECT_FALSE(fs::exists(d + "/worker.csr"));
  std::string out;
  const std::string log = dir_.path() + "/openssl.log";
  EXPECT_EQ(RunToEnd({"/usr/bin/openssl", "verify", "-CAfile", d + "/ca.pem", d + "/orchestrator.pem", d + "/worker.pem"},
                {}, log, &out),
            0)
      << out;
  EXPECT_EQ(RunToEnd({"/usr/bin/openssl", "x509", "-in", d + "/reorderer.pem", "-noout", "-ext", "subjectAltName"}, {}, log,
                &out),
            0)
      << out;
  for (const char* san : {"DNS:localhost", "IP Address:127.0.0.1", "DNS:node-7.cluster", "IP Address:10.1.2.3"})
    EXPECT_NE(out.find(san), std::string::npos) << san << " in " << out;

  // No overwriting without --force; bad names are refused.
  const std::string before = ReadAll(d + "/ca.pem");
  EXPECT_EQ(RunToEnd({BRAID_CLI_BIN, "certs", d}, {}, log, &out), 2) << out;
  EXPECT_NE(out.find("already exists"), std::string::npos) << out;
  EXPECT_NE(out.find("--force"), std::string::npos) << out;
  EXPECT_EQ(ReadAll(d + "/ca.pem"), before);
  EXPECT_EQ(RunToEnd({BRAID_CLI_BIN, "certs", d, "--force"}, {}, log, &out), 0) << out;
  EXPECT_NE(ReadAll(d + "/ca.pem"), before);
  EXPECT_EQ(RunToEnd({BRAID_CLI_BIN, "certs", dir_.path() + "/bad", "--san", "a,b"}, {}, log, &out), 2) << out;
  EXPECT_NE(out.find("--san"), std::string::npos) << out;
}

TEST_F(SecurityBinaryTest, NonLoopbackListenNeedsTlsOrInsecureListen) {
  const std::string log = dir_.path() + "/bind.log";
  std::string out;
  // Refused, and saying how to fix it.
  EXPECT_EQ(RunToEnd({BRAID_ORCHESTRATOR_BIN, "--listen", "0.0.0.0:0", "--state-dir", dir_.path() + "/s1",
                 "--metrics-listen", ""},
                {}, log, &out),
            2)
      << out;
  EXPECT_NE(out.find("not a loopback address"), std::string::npos) << out;
  EXPECT_NE(out.find("--insecure-listen"), std::string::npos) << out;
  EXPECT_EQ(RunToEnd({BRAID_REORDERER_BIN, "--listen", "0.0.0.0:0", "--metrics-listen", ""}, {}, log, &out), 2) << out;
  EXPECT_NE(out.find("--insecure-listen"), std::string::npos) << out;
  EXPECT_EQ(RunToEnd({BRAID_ENCODER_WORKER_BIN, "--listen", "0.0.0.0:0", "--orchestrator", "127.0.0.1:1",
                 "--metrics-listen", ""},
                {}, log, &out),
            2)
      << out;
  EXPECT_NE(out.find("--insecure-listen"), std::string::npos) << out;

  // --insecure-listen (or BRAID_INSECURE_LISTEN): served, with a warning.
  ASSERT_TRUE(StartOrchestrator({"--insecure-listen"}, "0.0.0.0:0")) << ReadAll(dir_.path() + "/orch.log");
  EXPECT_TRUE(ListJobs(address_, Security("")).ok());
  EXPECT_NE(ReadAll(dir_.path() + "/orch.log").find("traffic is unencrypted"), std::string::npos)
      << ReadAll(dir_.path() + "/orch.log");
  orch_.Signal(SIGTERM);
  EXPECT_EQ(orch_.Wait(10), 0);
  for (const char* f : {"/orch.addr", "/orch.metrics", "/orch.log"}) fs::remove(dir_.path() + f);

  // With TLS, a non-loopback address needs nothing more and logs no warning.
  const std::string certs = Certs("certs");
  ASSERT_TRUE(StartOrchestrator({"--tls-cert", certs + "/orchestrator.pem", "--tls-key", certs + "/orchestrator.key"},
                                "0.0.0.0:0"))
      << ReadAll(dir_.path() + "/orch.log");
  EXPECT_TRUE(ListJobs(address_, Security("", certs + "/ca.pem")).ok());
  EXPECT_EQ(ReadAll(dir_.path() + "/orch.log").find("unencrypted"), std::string::npos)
      << ReadAll(dir_.path() + "/orch.log");
}

}  // namespace
}  // namespace braid
