// What every gRPC process gets from rpc::StartServer and MetricsServer: the
// standard grpc.health.v1 Health service, braid_rpc_requests_total by
// method and code, and the process_* metrics.
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <future>
#include <string>

#include "braid/v1/job.grpc.pb.h"
#include "common/metrics/process_metrics.h"
#include "common/metrics/rpc_metrics.h"
#include "common/rpc/client_context.h"
#include "common/rpc/server.h"
#include "services/orchestrator/services.h"
#include "tests/temp_dir.h"

namespace braid {
namespace {

class NullPlanner : public orchestrator::DataPlanner {
 public:
  Status OpenJob(const std::string&, const std::string&, const orchestrator::Layout&) override { return Status::Ok(); }
  void CloseJob(const std::string&) override {}
  std::string address() const override { return "127.0.0.1:1"; }
};

std::string Exposition(const std::vector<prometheus::MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

class ServedOrchestrator : public ::testing::Test {
 protected:
  void SetUp() override {
    orchestrator::OrchestratorOptions opt;
    opt.runs_root = root_.path();
    orch_ = std::make_unique<orchestrator::Orchestrator>(opt, &planner_);
    service_ = orchestrator::MakeJobService(orch_.get(), 0.05);
    rpc::InterceptorFactories interceptors;
    interceptors.push_back(MakeRpcMetrics(registry_));
    int port = 0;
    auto server = rpc::StartServer("127.0.0.1:0", {service_.get()}, &port, std::move(interceptors));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    orch_->Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  testing_util::ScopedTempDir root_{"rpc_observability"};
  NullPlanner planner_;
  prometheus::Registry registry_;
  std::unique_ptr<orchestrator::Orchestrator> orch_;
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ServedOrchestrator, HealthCheckSaysServing) {
  grpc::GenericStub stub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::ByteBuffer request, response;  // HealthCheckRequest{service: ""} is zero bytes
  grpc::Slice empty;
  request = grpc::ByteBuffer(&empty, 1);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(s); });
  grpc::Status s = done.get_future().get();
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
}

TEST_F(ServedOrchestrator, RequestsAreCountedByMethodAndCode) {
  auto stub = v1::JobService::NewStub(channel_);
  for (int i = 0; i < 2; ++i) {
    v1::SubmitJobRequest req;
    req.set_job_yaml("not: [valid");
    v1::SubmitJobReply reply;
    ASSERT_EQ(stub->SubmitJob(rpc::MakeContext().get(), req, &reply).error_code(), grpc::INVALID_ARGUMENT);
  }
  v1::ListJobsRequest req;
  v1::ListJobsReply reply;
  ASSERT_TRUE(stub->ListJobs(rpc::MakeContext().get(), req, &reply).ok());
  const std::string text = Exposition(registry_.Collect());
  EXPECT_NE(text.find("# HELP braid_rpc_requests_total"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(braid_rpc_requests_total{code="INVALID_ARGUMENT",method="/braid.v1.JobService/SubmitJob"} 2)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(braid_rpc_requests_total{code="OK",method="/braid.v1.JobService/ListJobs"} 1)"),
            std::string::npos)
      << text;
}

TEST(ProcessMetricsTest, ReadsThisProcess) {
  const std::string text = Exposition(ProcessMetrics().Collect());
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                           "process_open_fds", "process_start_time_seconds"})
    EXPECT_NE(text.find(std::string("# HELP ") + name), std::string::npos) << name << "\n" << text;
  std::vector<prometheus::MetricFamily> f = ProcessMetrics().Collect();
  for (const auto& fam : f) {
    if (fam.name == "process_resident_memory_bytes") {
      EXPECT_GT(fam.metric[0].gauge.value, 1 << 20);
    } else if (fam.name == "process_open_fds") {
      EXPECT_GE(fam.metric[0].gauge.value, 3);  // stdin, stdout, stderr
    } else if (fam.name == "process_start_time_seconds") {
      EXPECT_GT(fam.metric[0].gauge.value, 1.7e9);
    }
  }
}

TEST(GrpcCodeNameTest, NamesEveryCode) {
  EXPECT_EQ(GrpcCodeName(0), "OK");
  EXPECT_EQ(GrpcCodeName(3), "INVALID_ARGUMENT");
  EXPECT_EQ(GrpcCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(GrpcCodeName(42), "CODE_42");
}

}  // namespace
}  // namespace braid
