// RPC security in one process (common/rpc/security.h, docs/RELIABILITY.md
// "Security"): the constant-time token compare, token and TLS file loading,
// the loopback test and binding rule, and a token-protected server (refused
// calls get UNAUTHENTICATED, never reach the handler and are counted in
// braid_auth_failures_total and braid_rpc_requests_total; health checks
// need no token), and the receive size limit.
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <future>
#include <optional>
#include <string>

#include "braid/v1/job.grpc.pb.h"
#include "common/metrics/rpc_metrics.h"
#include "common/rpc/client_context.h"
#include "common/rpc/security.h"
#include "common/rpc/server.h"
#include "tests/temp_dir.h"

namespace braid::rpc {
namespace {

// Sets (or, with nullopt, unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value) setenv(name, value->c_str(), 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
  chmod(path.c_str(), 0600);
  return path;
}

TEST(TokensEqualTest, EqualOnlyForTheSameBytes) {
  EXPECT_TRUE(TokensEqual("s3cret-token", "s3cret-token"));
  EXPECT_TRUE(TokensEqual("", ""));
  EXPECT_FALSE(TokensEqual("s3cret-token", "s3cret-tokeN"));  // same length, last byte differs
  EXPECT_FALSE(TokensEqual("s3cret-token", "X3cret-token"));  // first byte differs
  EXPECT_FALSE(TokensEqual("s3cret", "s3cret-token"));        // a prefix
  EXPECT_FALSE(TokensEqual("s3cret-token", ""));
  EXPECT_FALSE(TokensEqual(std::string("ab\0c", 4), "ab"));    // embedded NUL: all bytes count
}

TEST(LoadTokenTest, FileTrimmedAndPreferredOverTheEnvironment) {
  testing_util::ScopedTempDir dir("braid_token_");
  ScopedEnv env("BRAID_TOKEN", "from-env");
  EXPECT_EQ(LoadToken(WriteFile(dir.path() + "/t1", "tok-1\n")).value(), "tok-1");
  EXPECT_EQ(LoadToken(WriteFile(dir.path() + "/t2", "tok-2\r\n")).value(), "tok-2");
  EXPECT_EQ(LoadToken(WriteFile(dir.path() + "/t3", "  tok-3 \n\n")).value(), "tok-3");
  EXPECT_EQ(LoadToken("").value(), "from-env");
}

TEST(LoadTokenTest, EnvironmentTrimmedAndOptional) {
  {
    ScopedEnv env("BRAID_TOKEN", "env-token\n");
    EXPECT_EQ(LoadToken("").value(), "env-token");
  }
  {
    ScopedEnv env("BRAID_TOKEN", std::nullopt);
    EXPECT_EQ(LoadToken("").value(), "");  // no token: the check is off
  }
  {
    ScopedEnv env("BRAID_TOKEN", " \n");
    EXPECT_FALSE(LoadToken("").ok());
  }
}

TEST(LoadTokenTest, ClearErrorsNamingTheFile) {
  testing_util::ScopedTempDir dir("braid_token_");
  const std::string missing = dir.path() + "/missing";
  StatusOr<std::string> t = LoadToken(missing);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find(missing), std::string::npos) << t.status().message();
  EXPECT_NE(t.status().message().find("cannot read"), std::string::npos) << t.status().message();

  const std::string empty = WriteFile(dir.path() + "/empty", "");
  t = LoadToken(empty);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find(empty), std::string::npos) << t.status().message();
  EXPECT_NE(t.status().message().find("empty"), std::string::npos) << t.status().message();

  const std::string blank = WriteFile(dir.path() + "/blank", "\n\n");
  EXPECT_FALSE(LoadToken(blank).ok());

  const std::string spaced = WriteFile(dir.path() + "/spaced", "two words\n");  // metadata cannot carry it
  t = LoadToken(spaced);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find(spaced), std::string::npos) << t.status().message();
}

TEST(LoadSecurityTest, TlsFilesReadAndChecked) {
  testing_util::ScopedTempDir dir("braid_tls_");
  ScopedEnv env("BRAID_TOKEN", std::nullopt);
  const std::string pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  RpcSecurity s;
  s.tls_ca = WriteFile(dir.path() + "/ca.pem", pem);
  ASSERT_TRUE(LoadSecurity("", &s).ok());
  EXPECT_EQ(s.ca_pem, pem);
  EXPECT_TRUE(s.client_tls());
  EXPECT_FALSE(s.server_tls());

  RpcSecurity half;
  half.tls_cert = s.tls_ca;  // a certificate without its key
  Status st = LoadSecurity("", &half);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--tls-key"), std::string::npos) << st.message();

  RpcSecurity missing;
  missing.tls_ca = dir.path() + "/nope.pem";
  st = LoadSecurity("", &missing);
  EXPECT_NE(st.message().find("--tls-ca " + missing.tls_ca), std::string::npos) << st.message();

  RpcSecurity not_pem;
  not_pem.tls_ca = WriteFile(dir.path() + "/junk", "junk\n");
  EXPECT_FALSE(LoadSecurity("", &not_pem).ok());
}

TEST(IsLoopbackHostTest, OnlyLoopback) {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"}) EXPECT_TRUE(IsLoopbackHost(h)) << h;
  for (const char* h : {"", "0.0.0.0", "[::]", "::", "10.0.0.1", "128.0.0.1", "example.com", "localhost.evil.com"})
    EXPECT_FALSE(IsLoopbackHost(h)) << h;
}

// A JobService whose ListJobs counts its calls and whose SubmitJob accepts
// anything.
class CountingJobService final : public v1::JobService::Service {
 public:
  grpc::Status ListJobs(grpc::ServerContext* ctx, const v1::ListJobsRequest*, v1::ListJobsReply*) override {
    ++calls;
    // The token was consumed by the check: the handler never sees it.
    if (ctx->client_metadata().count("authorization") != 0) saw_token = true;
    return grpc::Status::OK;
  }
  grpc::Status SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest*, v1::SubmitJobReply*) override {
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
  std::atomic<bool> saw_token{false};
};

TEST(BindingRuleTest, NonLoopbackNeedsTlsOrInsecureListen) {
  CountingJobService svc;
  int port = 0;
  auto refused = StartServer("0.0.0.0:0", {&svc}, &port);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("--insecure-listen"), std::string::npos) << refused.status().message();
  EXPECT_NE(refused.status().message().find("--tls-cert"), std::string::npos) << refused.status().message();

  ServerOptions insecure;
  insecure.security.insecure_listen = true;
  auto served = StartServer("0.0.0.0:0", {&svc}, &port, {}, insecure);
  ASSERT_TRUE(served.ok()) << served.status().ToString();
  EXPECT_GT(port, 0);
  (*served)->Shutdown();

  auto loopback = StartServer("127.0.0.1:0", {&svc}, &port);
  ASSERT_TRUE(loopback.ok()) << loopback.status().ToString();
  (*loopback)->Shutdown();
}

class TokenServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions opt;
    opt.security.token = "right-token";
    opt.on_auth_failure = MakeAuthFailureCounter(registry_);
    opt.max_receive_bytes = kJobApiMaxMessageBytes;
    InterceptorFactories interceptors;
    interceptors.push_back(MakeRpcMetrics(registry_));
    auto server = StartServer("127.0.0.1:0", {&service_}, &port_, std::move(interceptors), opt);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  grpc::Status List(const std::string& token) {
    RpcSecurity s;
    s.token = token;
    auto stub = v1::JobService::NewStub(MakeChannel(address(), s));
    v1::ListJobsReply reply;
    return stub->ListJobs(MakeContext().get(), v1::ListJobsRequest(), &reply);
  }
  std::string Text() { return prometheus::TextSerializer().Serialize(registry_.Collect()); }

  prometheus::Registry registry_;
  CountingJobService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(TokenServerTest, NoTokenAndWrongTokenAreUnauthenticatedAndCounted) {
  grpc::Status none = List("");
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << none.error_message();
  EXPECT_NE(none.error_message().find("no bearer token"), std::string::npos) << none.error_message();
  grpc::Status wrong = List("wrong-token");
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED) << wrong.error_message();
  EXPECT_NE(wrong.error_message().find("invalid bearer token"), std::string::npos) << wrong.error_message();
  EXPECT_EQ(List("right-tokenX").error_code(), grpc::StatusCode::UNAUTHENTICATED);  // the right one as a prefix
  EXPECT_EQ(service_.calls, 0) << "a refused call reached the handler";

  grpc::Status right = List("right-token");
  EXPECT_TRUE(right.ok()) << right.error_message();
  EXPECT_EQ(service_.calls, 1);
  EXPECT_FALSE(service_.saw_token);

  const std::string t = Text();
  EXPECT_NE(t.find(R"(braid_auth_failures_total{method="/braid.v1.JobService/ListJobs"} 3)"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(braid_rpc_requests_total{code="UNAUTHENTICATED",method="/braid.v1.JobService/ListJobs"} 3)"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find(R"(braid_rpc_requests_total{code="OK",method="/braid.v1.JobService/ListJobs"} 1)"),
            std::string::npos)
      << t;
}

TEST_F(TokenServerTest, HealthCheckNeedsNoToken) {
  grpc::GenericStub stub(MakeChannel(address(), RpcSecurity()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::ByteBuffer request, response;
  grpc::Slice empty;
  request = grpc::ByteBuffer(&empty, 1);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(s); });
  grpc::Status s = done.get_future().get();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Text().find("braid_auth_failures_total{"), std::string::npos);
}

TEST_F(TokenServerTest, MessagesOverTheLimitAreRefused) {
  RpcSecurity s;
  s.token = "right-token";
  auto stub = v1::JobService::NewStub(MakeChannel(address(), s));
  v1::SubmitJobRequest req;
  v1::SubmitJobReply reply;
  req.set_job_yaml(std::string(kJobApiMaxMessageBytes - 1024, 'x'));
  grpc::Status under = stub->SubmitJob(MakeContext().get(), req, &reply);
  EXPECT_TRUE(under.ok()) << under.error_message();
  req.set_job_yaml(std::string(kJobApiMaxMessageBytes + 1024, 'x'));
  EXPECT_EQ(stub->SubmitJob(MakeContext().get(), req, &reply).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(ProcessSecurityTest, SetAndRead) {
  RpcSecurity s;
  s.token = "process-token";
  SetProcessSecurity(s);
  EXPECT_EQ(ProcessSecurity().token, "process-token");
  SetProcessSecurity(RpcSecurity());
  EXPECT_EQ(ProcessSecurity().token, "");
}

}  // namespace
}  // namespace braid::rpc
