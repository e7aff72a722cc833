// Device selection (docs/GPU.md step 7), the orchestrator side: workers
// register their device (bad ones are refused and not kept), a job's modules
// go only to workers of the job's `device`, a job whose device no worker of
// a module has fails at once with a message naming the module and the
// device, and a `device: cuda` job is taken with a data-parallel layout and
// refused (UNIMPLEMENTED) with tp or pp.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "braid/v1/worker.pb.h"
#include "services/orchestrator/device_match.h"
#include "services/orchestrator/orchestrator.h"
#include "services/orchestrator/proto_convert.h"
#include "tests/temp_dir.h"
#include "tests/test_files.h"

namespace braid::orchestrator {
namespace {

std::string TinyOn(const std::string& device) { return testing_util::TinyJobYaml() + "device: " + device + "\n"; }

WorkerRegistration Worker(Role role, const std::string& device, int index = 0) {
  static int pid = 6000;
  WorkerRegistration r;
  r.role = role;
  r.host = "127.0.0.1";
  r.pid = pid++;
  r.protocol_version = kProtocolVersion;
  r.device = device;
  r.device_index = index;
  return r;
}

class NullPlanner : public DataPlanner {
 public:
  Status OpenJob(const std::string&, const std::string&, const Layout&) override { return Status::Ok(); }
  void CloseJob(const std::string&) override {}
  std::string address() const override { return "127.0.0.1:1"; }
};

TEST(DeviceMatch, MessagesNameTheModuleAndTheDevice) {
  EXPECT_TRUE(CheckDeviceAvailable("cuda", Role::kLlm, 1, 3).ok());
  EXPECT_TRUE(CheckDeviceAvailable("cuda", Role::kLlm, 0, 0).ok());  // nobody yet: the job waits
  Status s = CheckDeviceAvailable("cuda", Role::kLlm, 0, 2);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "device: cuda: the llm module needs cuda workers and none is registered (2 llm workers on cpu); "
            "start the llm pool with `device: cuda` (worker flag --device cuda)");
  EXPECT_EQ(CheckDeviceAvailable("cpu", Role::kEncoder, 0, 1).message(),
            "device: cpu: the encoder module needs cpu workers and none is registered (1 encoder worker on "
            "cuda); start the encoder pool with `device: cpu` (worker flag --device cpu)");
  EXPECT_EQ(NormalizeDevice(""), "cpu");
  EXPECT_EQ(ValidateWorkerDevice("tpu", 0).message(), "capabilities.device: must be cpu or cuda, got 'tpu'");
  EXPECT_EQ(ValidateWorkerDevice("cuda", -1).message(), "capabilities.device_index: must be non-negative, got -1");
}

TEST(DeviceMatch, RegistrationCarriesTheDeviceOverTheWire) {
  braid::v1::RegisterWorkerRequest req;
  req.set_role(braid::v1::MODULE_LLM);
  req.set_protocol_version(kProtocolVersion);
  req.mutable_capabilities()->set_device("cuda");
  req.mutable_capabilities()->set_device_index(3);
  const WorkerRegistration r = FromProto(req);
  EXPECT_EQ(r.device, "cuda");
  EXPECT_EQ(r.device_index, 3);
  // A worker from before the field sends no device: it registers as cpu.
  req.clear_capabilities();
  WorkerTable table(1, 5, [] { return 0.0; });
  StatusOr<WorkerInfo> w = table.Register(FromProto(req));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->reg.device, "cpu");
}

TEST(DeviceMatch, ABadDeviceIsRefusedAndNotKept) {
  WorkerTable table(1, 5, [] { return 0.0; });
  StatusOr<WorkerInfo> w = table.Register(Worker(Role::kLlm, "tpu"));
  EXPECT_EQ(w.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.status().message(), "capabilities.device: must be cpu or cuda, got 'tpu'");
  w = table.Register(Worker(Role::kLlm, "cuda", -1));
  EXPECT_EQ(w.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(table.Idle(Role::kLlm).empty());
  EXPECT_EQ(table.CountBusy(Role::kLlm), 0);
}

TEST(DeviceMatch, IdleWorkersFilterByDevice) {
  WorkerTable table(1, 5, [] { return 0.0; });
  ASSERT_TRUE(table.Register(Worker(Role::kLlm, "cpu")).ok());
  ASSERT_TRUE(table.Register(Worker(Role::kLlm, "cuda", 1)).ok());
  ASSERT_TRUE(table.Register(Worker(Role::kLlm, "")).ok());
  EXPECT_EQ(table.Idle(Role::kLlm).size(), 3u);
  EXPECT_EQ(table.Idle(Role::kLlm, "cpu").size(), 2u);
  ASSERT_EQ(table.Idle(Role::kLlm, "cuda").size(), 1u);
  EXPECT_EQ(table.Idle(Role::kLlm, "cuda")[0].reg.device_index, 1);
}

class DeviceSchedulerTest : public ::testing::Test {
 protected:
  DeviceSchedulerTest()
      : root_("braid_device_sched_"),
        jobs_(root_.path(), [] { return 1.7e9; }),
        workers_(1, 5, [] { return 0.0; }),
        scheduler_(&jobs_, &workers_, &planner_, &mu_) {}

  std::string Add(Role role, const std::string& device) { return workers_.Register(Worker(role, device))->id; }

  testing_util::ScopedTempDir root_;
  JobTable jobs_;
  WorkerTable workers_;
  NullPlanner planner_;
  std::mutex mu_;
  Scheduler scheduler_;
};

// JobTable::Submit has no device gate (the Orchestrator's SubmitJob has), so
// the scheduler's matching is tested here for cuda jobs too.
TEST_F(DeviceSchedulerTest, ModulesGoOnlyToWorkersOfTheJobsDevice) {
  const std::string cpu_enc = Add(Role::kEncoder, "cpu");
  const std::string cuda_enc = Add(Role::kEncoder, "cuda");
  const std::string cpu_llm = Add(Role::kLlm, "cpu");
  const std::string cuda_llm = Add(Role::kLlm, "cuda");
  const std::string cuda_gen = Add(Role::kGenerator, "cuda");
  const std::string cpu_gen = Add(Role::kGenerator, "cpu");
  const std::string id = jobs_.Submit(TinyOn("cuda"))->id;
  std::optional<StartedJob> started = scheduler_.RunOnce();
  ASSERT_TRUE(started.has_value()) << jobs_.Get(id)->reason;
  EXPECT_EQ(started->worker_ids, (std::vector<std::string>{cuda_enc, cuda_llm, cuda_gen}));
  EXPECT_NE(started->assignments[0].job_yaml.find("device: \"cuda\""), std::string::npos);

  const std::string cpu_job = jobs_.Submit(TinyOn("cpu"))->id;
  started = scheduler_.RunOnce();
  ASSERT_TRUE(started.has_value()) << jobs_.Get(cpu_job)->reason;
  EXPECT_EQ(started->worker_ids, (std::vector<std::string>{cpu_enc, cpu_llm, cpu_gen}));
}

TEST_F(DeviceSchedulerTest, AJobWaitsForWorkersOfItsDeviceThatAreBusy) {
  Add(Role::kEncoder, "cuda");
  Add(Role::kLlm, "cuda");
  Add(Role::kGenerator, "cuda");
  Add(Role::kLlm, "cpu");
  ASSERT_TRUE(scheduler_.RunOnce() == std::nullopt);
  const std::string first = jobs_.Submit(TinyOn("cuda"))->id;
  ASSERT_TRUE(scheduler_.RunOnce().has_value());
  const std::string second = jobs_.Submit(TinyOn("cuda"))->id;
  EXPECT_FALSE(scheduler_.RunOnce().has_value());
  EXPECT_EQ(jobs_.Get(second)->state, JobState::kPending);
  EXPECT_EQ(jobs_.Get(second)->reason,
            "waiting for 1 encoder worker (1 registered, 1 busy), 1 llm worker (1 registered, 1 busy), 1 generator "
            "worker (1 registered, 1 busy)");
  (void)first;
}

TEST_F(DeviceSchedulerTest, AJobWhoseDeviceNoWorkerHasFailsNamingTheModule) {
  Add(Role::kEncoder, "cuda");
  Add(Role::kLlm, "cpu");
  Add(Role::kLlm, "cpu");
  Add(Role::kGenerator, "cuda");
  const std::string id = jobs_.Submit(TinyOn("cuda"))->id;
  EXPECT_FALSE(scheduler_.RunOnce().has_value());
  EXPECT_EQ(jobs_.Get(id)->state, JobState::kFailed);
  EXPECT_EQ(jobs_.Get(id)->reason,
            "device: cuda: the llm module needs cuda workers and none is registered (2 llm workers on cpu); "
            "start the llm pool with `device: cuda` (worker flag --device cuda)");
}

class DeviceOrchestratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OrchestratorOptions opt;
    opt.runs_root = root_.path();
    orch_ = std::make_unique<Orchestrator>(opt, &planner_, [this] { return now_.load(); });
  }
  void TearDown() override { orch_->Shutdown(); }
  void RegisterAll(const std::string& device) {
    for (Role r : kRoles) ASSERT_TRUE(orch_->RegisterWorker(Worker(r, device)).ok());
  }

  testing_util::ScopedTempDir root_{"braid_device_orch_"};
  NullPlanner planner_;
  std::atomic<double> now_{0.0};
  std::unique_ptr<Orchestrator> orch_;
};

TEST_F(DeviceOrchestratorTest, ACudaJobWithOnlyCpuWorkersIsRefused) {
  RegisterAll("cpu");
  StatusOr<Job> job = orch_->SubmitJob(TinyOn("cuda"), "tiny.yaml");
  EXPECT_EQ(job.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(job.status().message(),
            "device: cuda: the encoder module needs cuda workers and none is registered (1 encoder worker on "
            "cpu); start the encoder pool with `device: cuda` (worker flag --device cuda)");
  EXPECT_TRUE(orch_->ListJobs().empty());
  // The same workers take a cpu job.
  job = orch_->SubmitJob(TinyOn("cpu"), "tiny.yaml");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  orch_->Tick();
  EXPECT_EQ(orch_->GetJob(job->id)->state, JobState::kRunning);
}

TEST_F(DeviceOrchestratorTest, ACudaJobWithADataParallelLayoutIsTaken) {
  RegisterAll("cuda");
  StatusOr<Job> job = orch_->SubmitJob(TinyOn("cuda"), "tiny.yaml");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  orch_->Tick();
  EXPECT_EQ(orch_->GetJob(job->id)->state, JobState::kRunning);
}

// Every layout runs on a device (DP, PP and TP: docs/GPU.md step 3).
TEST_F(DeviceOrchestratorTest, ACudaJobWithTpAndPpIsAccepted) {
  const std::string job_yaml =
      TinyOn("cuda") + "parallel: {encoder: {dp: 1, tp: 2}, llm: {dp: 1, tp: 2}, generator: {dp: 1}}\n";
  RegisterAll("cuda");
  StatusOr<Job> job = orch_->SubmitJob(job_yaml, "tiny.yaml");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(orch_->ListJobs().size(), size_t(1));
}

TEST_F(DeviceOrchestratorTest, ACpuJobWithOnlyCudaWorkersIsRefused) {
  RegisterAll("cuda");
  StatusOr<Job> job = orch_->SubmitJob(TinyOn("cpu"), "tiny.yaml");
  EXPECT_EQ(job.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(job.status().message().find("device: cpu: the encoder module needs cpu workers"), std::string::npos)
      << job.status().message();
}

TEST_F(DeviceOrchestratorTest, BadSpecsKeepTheirOwnMessage) {
  RegisterAll("cpu");
  StatusOr<Job> job = orch_->SubmitJob(TinyOn("gpu"), "tiny.yaml");
  EXPECT_EQ(job.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(job.status().message(), "device: must be one of cpu, cuda, got 'gpu'");
}

}  // namespace
}  // namespace braid::orchestrator
