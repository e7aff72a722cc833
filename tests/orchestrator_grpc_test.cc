// The orchestrator over gRPC: an in-process server on port 0 (bad and good
// submissions, pending reason, protocol refusal, rendezvous, watch, a whole
// job driven by fake workers, a dead worker), and the braid-orchestrator
// binary (address file, SIGTERM, --help).
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "braid/v1/job.grpc.pb.h"
#include "braid/v1/rendezvous.grpc.pb.h"
#include "braid/v1/worker.grpc.pb.h"
#include "common/rpc/address_file.h"
#include "common/rpc/client_context.h"
#include "common/rpc/server.h"
#include "services/orchestrator/services.h"
#include "tests/fork_child.h"
#include "tests/temp_dir.h"
#include "tests/test_files.h"
#include "tests/http_get.h"

namespace braid::orchestrator {
namespace {
namespace fs = std::filesystem;
namespace pb = braid::v1;

using testing_util::ChildProcess;
using testing_util::TinyJobYaml;

class NullPlanner : public DataPlanner {
 public:
  Status OpenJob(const std::string&, const std::string&, const Layout&) override { return Status::Ok(); }
  void CloseJob(const std::string& id) override { closed.push_back(id); }
  std::string address() const override { return "127.0.0.1:1"; }
  std::vector<std::string> closed;
};

class OrchestratorGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OrchestratorOptions opt;
    opt.runs_root = root_.path();
    orch_ = std::make_unique<Orchestrator>(opt, &planner_, [this] { return now_.load(); });
    job_service_ = MakeJobService(orch_.get(), 0.05);
    registry_service_ = MakeWorkerRegistryService(orch_.get());
    rendezvous_service_ = MakeRendezvousService(orch_.get());
    int port = 0;
    auto server = rpc::StartServer("127.0.0.1:0",
                                   {job_service_.get(), registry_service_.get(), rendezvous_service_.get()}, &port);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    ASSERT_GT(port, 0);
    server_ = std::move(server).value();
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
    jobs_ = pb::JobService::NewStub(channel);
    registry_ = pb::WorkerRegistry::NewStub(channel);
    rendezvous_ = pb::Rendezvous::NewStub(channel);
  }
  void TearDown() override {
    orch_->Shutdown();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  grpc::Status Submit(const std::string& yaml, pb::Job* job) {
    pb::SubmitJobRequest req;
    req.set_job_yaml(yaml);
    req.set_source_name("tiny.yaml");
    pb::SubmitJobReply reply;
    grpc::Status st = jobs_->SubmitJob(rpc::MakeContext().get(), req, &reply);
    *job = reply.job();
    return st;
  }
  pb::Job Get(const std::string& id) {
    pb::GetJobRequest req;
    req.set_job_id(id);
    pb::GetJobReply reply;
    EXPECT_TRUE(jobs_->GetJob(rpc::MakeContext().get(), req, &reply).ok());
    return reply.job();
  }
  grpc::Status Register(pb::Module role, int version, std::string* id) {
    pb::RegisterWorkerRequest req;
    req.set_role(role);
    req.set_host("127.0.0.1");
    req.set_pid(4000 + int(role));
    req.set_protocol_version(version);
    pb::RegisterWorkerReply reply;
    grpc::Status st = registry_->RegisterWorker(rpc::MakeContext().get(), req, &reply);
    *id = reply.worker_id();
    return st;
  }

  // Submits tiny.yaml, registers one worker per module (their ids in *ids),
  // and schedules: the job must be running. Use with ASSERT_NO_FATAL_FAILURE.
  void StartTinyJob(pb::Job* job, std::map<pb::Module, std::string>* ids) {
    ASSERT_TRUE(Submit(TinyJobYaml(), job).ok());
    for (pb::Module m : {pb::MODULE_ENCODER, pb::MODULE_LLM, pb::MODULE_GENERATOR})
      ASSERT_TRUE(Register(m, 1, &(*ids)[m]).ok());
    orch_->Tick();
    ASSERT_EQ(Get(job->id()).state(), pb::JOB_STATE_RUNNING);
  }

  testing_util::ScopedTempDir root_{"braid_orch_grpc_"};
  NullPlanner planner_;
  std::atomic<double> now_{0.0};
  std::unique_ptr<Orchestrator> orch_;
  std::unique_ptr<grpc::Service> job_service_, registry_service_, rendezvous_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::JobService::Stub> jobs_;
  std::unique_ptr<pb::WorkerRegistry::Stub> registry_;
  std::unique_ptr<pb::Rendezvous::Stub> rendezvous_;
};

TEST_F(OrchestratorGrpcTest, BadJobIsInvalidArgumentAndTheServerKeepsServing) {
  pb::Job job;
  std::string bad = TinyJobYaml();
  bad.replace(bad.find("heads: 2, mlp_hidden"), 8, "heads: 3");
  grpc::Status st = Submit(bad, &job);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("model.llm.heads: ", 0), 0u) << st.error_message();
  EXPECT_TRUE(fs::is_empty(root_.path()));

  ASSERT_TRUE(Submit(TinyJobYaml(), &job).ok());
  EXPECT_EQ(job.state(), pb::JOB_STATE_PENDING);
  EXPECT_EQ(job.total_steps(), 4);
  EXPECT_TRUE(fs::exists(job.run_dir() + "/job.yaml"));
  orch_->Tick();
  EXPECT_EQ(Get(job.id()).reason(),
            "waiting for 1 encoder worker (0 registered), 1 llm worker (0 registered), 1 generator worker (0 "
            "registered)");
  pb::ListJobsReply list;
  ASSERT_TRUE(jobs_->ListJobs(rpc::MakeContext().get(), pb::ListJobsRequest(), &list).ok());
  ASSERT_EQ(list.jobs_size(), 1);
  pb::GetJobRequest unknown;
  unknown.set_job_id("nope");
  pb::GetJobReply r;
  EXPECT_EQ(jobs_->GetJob(rpc::MakeContext().get(), unknown, &r).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(OrchestratorGrpcTest, WrongProtocolVersionIsFailedPrecondition) {
  std::string id;
  grpc::Status st = Register(pb::MODULE_LLM, 2, &id);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(), "worker speaks protocol version 2, orchestrator speaks 1");
  ASSERT_TRUE(Register(pb::MODULE_LLM, pb::PROTOCOL_VERSION_CURRENT, &id).ok());
  EXPECT_EQ(id, "w-1");
}

TEST_F(OrchestratorGrpcTest, RendezvousSetAndGet) {
  std::thread setter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pb::SetKeyRequest req;
    req.set_key("job/x/ucx/llm/0");
    req.set_value(std::string("\x01\x00\x02", 3));
    pb::SetKeyReply reply;
    EXPECT_TRUE(rendezvous_->SetKey(rpc::MakeContext().get(), req, &reply).ok());
  });
  pb::GetKeyRequest get;
  get.set_key("job/x/ucx/llm/0");
  get.set_wait_seconds(10);
  pb::GetKeyReply value;
  grpc::Status st = rendezvous_->GetKey(rpc::MakeContext(15).get(), get, &value);
  setter.join();
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(value.value(), std::string("\x01\x00\x02", 3));
  get.set_key("job/x/missing");
  get.set_wait_seconds(0.05);
  st = rendezvous_->GetKey(rpc::MakeContext().get(), get, &value);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_NE(st.error_message().find("job/x/missing"), std::string::npos);
}

TEST_F(OrchestratorGrpcTest, WatchStreamsUntilTheJobIsFinal) {
  pb::Job job;
  ASSERT_TRUE(Submit(TinyJobYaml(), &job).ok());
  grpc::ClientContext ctx;
  pb::WatchJobRequest req;
  req.set_job_id(job.id());
  auto reader = jobs_->WatchJob(&ctx, req);
  pb::JobEvent ev;
  ASSERT_TRUE(reader->Read(&ev));
  EXPECT_EQ(ev.kind(), pb::JobEvent::KIND_SNAPSHOT);
  pb::CancelJobRequest cancel;
  cancel.set_job_id(job.id());
  pb::CancelJobReply cancelled;
  ASSERT_TRUE(jobs_->CancelJob(rpc::MakeContext().get(), cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.job().state(), pb::JOB_STATE_CANCELLED);
  pb::JobState last = pb::JOB_STATE_UNSPECIFIED;
  while (reader->Read(&ev)) last = ev.job().state();
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(last, pb::JOB_STATE_CANCELLED);
  EXPECT_EQ(jobs_->CancelJob(rpc::MakeContext().get(), cancel, &cancelled).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// Three fake workers run tiny.yaml's 4 steps; the job succeeds.
TEST_F(OrchestratorGrpcTest, FakeWorkersRunAJobToSuccess) {
  pb::Job job;
  std::map<pb::Module, std::string> ids;
  ASSERT_NO_FATAL_FAILURE(StartTinyJob(&job, &ids));
  for (auto& [m, id] : ids) {
    pb::GetAssignmentRequest req;
    req.set_worker_id(id);
    req.set_wait_seconds(5);
    pb::GetAssignmentReply reply;
    ASSERT_TRUE(registry_->GetAssignment(rpc::MakeContext(10).get(), req, &reply).ok());
    ASSERT_TRUE(reply.assigned());
    EXPECT_EQ(reply.assignment().role(), m);
    EXPECT_EQ(reply.assignment().rendezvous_prefix(), "job/" + job.id() + "/a1/");
    EXPECT_EQ(reply.assignment().attempt(), 1);
  }
  for (int64_t step = 0; step < 4; ++step) {
    for (auto& [m, id] : ids) {
      pb::ReportStepRequest req;
      req.set_worker_id(id);
      req.set_job_id(job.id());
      req.set_step(step);
      req.set_role(m);
      req.set_rank(0);
      req.set_global_text_targets(10);
      req.set_global_gen_targets(2);
      if (m == pb::MODULE_LLM) {
        req.set_text_loss_sum(5);
        req.set_tokens(64);
        for (int s = 0; s < 8; ++s) req.add_sample_ids(step * 8 + s);
      }
      if (m == pb::MODULE_GENERATOR) req.set_gen_loss_sum(1);
      pb::ReportStepReply reply;
      ASSERT_TRUE(registry_->ReportStep(rpc::MakeContext().get(), req, &reply).ok());
    }
  }
  pb::Job running = Get(job.id());
  EXPECT_EQ(running.step(), 4);
  EXPECT_DOUBLE_EQ(running.last().loss(), 1.0);
  EXPECT_EQ(running.state(), pb::JOB_STATE_RUNNING);  // not every rank is done yet
  for (auto& [m, id] : ids) {
    pb::ReportDoneRequest req;
    req.set_worker_id(id);
    req.set_job_id(job.id());
    pb::ReportDoneReply reply;
    ASSERT_TRUE(registry_->ReportDone(rpc::MakeContext().get(), req, &reply).ok());
  }
  EXPECT_EQ(Get(job.id()).state(), pb::JOB_STATE_SUCCEEDED);
  std::ifstream metrics(job.run_dir() + "/metrics.jsonl");
  int lines = 0;
  for (std::string l; std::getline(metrics, l);) ++lines;
  EXPECT_EQ(lines, 4);
  EXPECT_EQ(planner_.closed, std::vector<std::string>{job.id()});
  for (auto& [m, id] : ids) EXPECT_EQ(orch_->workers().Get(id)->job_id, "");
}

TEST_F(OrchestratorGrpcTest, DeadWorkerPutsItsJobInRecoveryAndCancelsTheOthers) {
  pb::Job job;
  std::map<pb::Module, std::string> ids;
  ASSERT_NO_FATAL_FAILURE(StartTinyJob(&job, &ids));
  for (auto& [m, id] : ids) ASSERT_TRUE(orch_->GetAssignment(id, 0)->assigned);
  now_ = 4.0;
  for (pb::Module m : {pb::MODULE_ENCODER, pb::MODULE_GENERATOR}) ASSERT_TRUE(orch_->Heartbeat(ids[m], job.id(), 0).ok());
  now_ = 5.5;  // the LLM worker has been silent for 5.5 s
  orch_->Tick();
  const pb::Job lost = Get(job.id());
  EXPECT_EQ(lost.state(), pb::JOB_STATE_RECOVERING);
  EXPECT_EQ(lost.reason().rfind("llm rank 0 (worker " + ids[pb::MODULE_LLM] +
                                    ", pid 4002) lost at step 0 (stopped sending heartbeats), resuming from step 0",
                                0),
            0u)
      << lost.reason();
  EXPECT_EQ(lost.restarts(), 1);
  ASSERT_GE(lost.history_size(), 1);
  EXPECT_NE(lost.history(0).text().find("lost at step 0"), std::string::npos);
  pb::HeartbeatRequest hb;
  hb.set_worker_id(ids[pb::MODULE_ENCODER]);
  hb.set_job_id(job.id());
  pb::HeartbeatReply reply;
  ASSERT_TRUE(registry_->Heartbeat(rpc::MakeContext().get(), hb, &reply).ok());
  EXPECT_EQ(reply.command(), pb::COMMAND_CANCEL_JOB);
  hb.set_worker_id(ids[pb::MODULE_LLM]);
  EXPECT_EQ(registry_->Heartbeat(rpc::MakeContext().get(), hb, &reply).error_code(), grpc::StatusCode::NOT_FOUND);
}

// ---- the binary ----------------------------------------------------------

TEST(OrchestratorBinaryTest, ServesWritesItsAddressAndExitsZeroOnSigterm) {
  testing_util::ScopedTempDir dir("braid_orch_bin_");
  const std::string addr_file = dir.path() + "/orchestrator.addr";
  // Killed when the test ends early (a failed ASSERT): no orchestrator outlives it.
  ChildProcess orch = ChildProcess::Exec({BRAID_ORCHESTRATOR_BIN, "--listen", "127.0.0.1:0", "--address-file",
                                          addr_file, "--state-dir", dir.path() + "/state", "--runs-root",
                                          dir.path(), "--metrics-listen", "127.0.0.1:0", "--log-level", "warn"});
  ASSERT_TRUE(orch.started());
  StatusOr<std::string> addr = rpc::ReadAddressFile(addr_file, 15);
  ASSERT_TRUE(addr.ok()) << addr.status().ToString();
  EXPECT_EQ(addr->rfind("127.0.0.1:", 0), 0u) << *addr;
  auto stub = pb::JobService::NewStub(grpc::CreateChannel(*addr, grpc::InsecureChannelCredentials()));
  pb::ListJobsReply list;
  EXPECT_TRUE(stub->ListJobs(rpc::MakeContext().get(), pb::ListJobsRequest(), &list).ok());
  ASSERT_TRUE(orch.Signal(SIGTERM));
  EXPECT_EQ(orch.Wait(5.0), 0) << "-1: still running 5 s after SIGTERM";
}

using testing_util::HttpGetMetrics;

// Polls the orchestrator's metrics until one idle encoder worker shows.
bool WaitForIdleEncoder(const std::string& metrics_addr, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (HttpGetMetrics(metrics_addr).find(R"(braid_workers{role="encoder",state="idle"} 1)") != std::string::npos)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

TEST(OrchestratorBinaryTest, WorkersRegisterAgainWithARestartedOrchestrator) {
  testing_util::ScopedTempDir dir("braid_orch_restart_");
  auto start = [&](const std::string& listen, const std::string& tag) {
    return ChildProcess::Exec({BRAID_ORCHESTRATOR_BIN, "--listen", listen, "--address-file",
                               dir.path() + "/" + tag + ".addr", "--state-dir", dir.path() + "/state", "--runs-root",
                               dir.path(), "--metrics-listen", "127.0.0.1:0", "--metrics-address-file",
                               dir.path() + "/" + tag + ".metrics", "--reorderer", "127.0.0.1:1", "--log-level",
                               "warn"});
  };
  ChildProcess first = start("127.0.0.1:0", "first");
  ASSERT_TRUE(first.started());
  StatusOr<std::string> addr = rpc::ReadAddressFile(dir.path() + "/first.addr", 15);
  StatusOr<std::string> metrics = rpc::ReadAddressFile(dir.path() + "/first.metrics", 15);
  ASSERT_TRUE(addr.ok() && metrics.ok());
  ChildProcess worker = ChildProcess::Exec({BRAID_ENCODER_WORKER_BIN, "--orchestrator", *addr, "--listen",
                                            "127.0.0.1:0", "--metrics-listen", "", "--log-level", "error"});
  ASSERT_TRUE(worker.started());
  ASSERT_TRUE(WaitForIdleEncoder(*metrics, 20)) << "the worker never registered with the first orchestrator";
  ASSERT_TRUE(first.Signal(SIGTERM));
  ASSERT_EQ(first.Wait(5.0), 0);
  ChildProcess second = start(*addr, "second");  // the same port: the worker's --orchestrator
  ASSERT_TRUE(second.started());
  StatusOr<std::string> metrics2 = rpc::ReadAddressFile(dir.path() + "/second.metrics", 15);
  ASSERT_TRUE(metrics2.ok());
  EXPECT_TRUE(WaitForIdleEncoder(*metrics2, 20)) << "the worker did not register with the restarted orchestrator";
  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(10.0), 0);
  second.Signal(SIGTERM);
  EXPECT_EQ(second.Wait(5.0), 0);
}

TEST(OrchestratorBinaryTest, HelpExitsZero) {
  ChildProcess help = ChildProcess::Exec({BRAID_ORCHESTRATOR_BIN, "--help"});
  ASSERT_TRUE(help.started());
  EXPECT_EQ(help.Wait(10.0), 0);
}

}  // namespace
}  // namespace braid::orchestrator
