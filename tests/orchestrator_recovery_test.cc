// Recovery in the orchestrator core (docs/RELIABILITY.md): a lost rank puts
// the job in RECOVERING, the run is rewound to the newest good checkpoint,
// the next attempt starts there once released workers are back, reports of
// the lost attempt are refused, and the retry budget ends in FAILED.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/checkpoint/checkpoint.h"
#include "common/checkpoint/durable_file.h"
#include "services/orchestrator/orchestrator.h"
#include "tests/temp_dir.h"
#include "tests/test_files.h"

namespace braid::orchestrator {
namespace {
namespace fs = std::filesystem;

class CountingPlanner : public DataPlanner {
 public:
  Status OpenJob(const std::string& id, const std::string&, const Layout&) override {
    opened.push_back(id);
    return Status::Ok();
  }
  void CloseJob(const std::string& id) override { closed.push_back(id); }
  std::string address() const override { return "127.0.0.1:1"; }
  std::vector<std::string> opened, closed;
};

// tiny.yaml (4 steps, a checkpoint every 2) with reliability.max_restarts.
std::string TinyWithRestarts(int max_restarts) {
  return testing_util::TinyJobYaml() + "reliability:\n  max_restarts: " + std::to_string(max_restarts) + "\n";
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OrchestratorOptions opt;
    opt.runs_root = root_.path();
    opt.on_recovery = [this](const Job&) { ++recoveries_; };
    orch_ = std::make_unique<Orchestrator>(opt, &planner_, [this] { return now_.load(); });
  }
  void TearDown() override { orch_->Shutdown(); }

  std::string Register(Role role) {
    WorkerRegistration r;
    r.role = role;
    r.host = "127.0.0.1";
    r.pid = 5000 + next_pid_++;
    r.protocol_version = kProtocolVersion;
    return orch_->RegisterWorker(r)->id;
  }
  // Submits, registers one worker per module, schedules and delivers the
  // assignments (in *assignments by role).
  void Start(const std::string& yaml) {
    auto job = orch_->SubmitJob(yaml, "tiny.yaml");
    ASSERT_TRUE(job.ok()) << job.status().ToString();
    job_ = job->id;
    for (Role r : kRoles) ids_[r] = Register(r);
    orch_->Tick();
    ASSERT_EQ(orch_->GetJob(job_)->state, JobState::kRunning);
    Deliver();
  }
  void Deliver() {
    for (Role r : kRoles) {
      auto poll = orch_->GetAssignment(ids_[r], 0);
      ASSERT_TRUE(poll.ok());
      ASSERT_TRUE(poll->assigned) << RoleName(r);
      assignments_[r] = poll->assignment;
    }
  }
  StatusOr<Command> Report(Role r, int64_t step, int attempt) {
    StepReport rep;
    rep.worker_id = ids_[r];
    rep.job_id = job_;
    rep.step = step;
    rep.role = r;
    rep.rank = 0;
    rep.attempt = attempt;
    rep.global_text_targets = 10;
    rep.global_gen_targets = 2;
    if (r == Role::kLlm) {
      rep.text_loss_sum = 5 + double(step);
      for (int s = 0; s < 8; ++s) rep.sample_ids.push_back(step * 8 + s);
    }
    if (r == Role::kGenerator) rep.gen_loss_sum = 1;
    // Rank 0 of every module writes its shard at each checkpoint step.
    if ((step + 1) % 2 == 0) {
      rep.wrote_checkpoint = true;
      const std::string tmp = run_dir() + "/checkpoints/step-" + std::to_string(step + 1) + ".tmp";
      fs::create_directories(tmp);
      EXPECT_TRUE(WriteFileDurably(tmp + "/" + RoleName(r) + ".safetensors", "shard").ok());
    }
    return orch_->ReportStep(rep);
  }
  void RunSteps(int64_t from, int64_t to, int attempt) {
    for (int64_t s = from; s < to; ++s)
      for (Role r : kRoles) {
        auto c = Report(r, s, attempt);
        ASSERT_TRUE(c.ok()) << c.status().ToString();
        ASSERT_EQ(*c, Command::kNone);
      }
  }
  std::string run_dir() { return orch_->GetJob(job_)->run_dir; }

  testing_util::ScopedTempDir root_{"braid_recovery_"};
  CountingPlanner planner_;
  std::atomic<double> now_{0.0};
  std::unique_ptr<Orchestrator> orch_;
  std::string job_;
  std::map<Role, std::string> ids_;
  std::map<Role, Assignment> assignments_;
  int next_pid_ = 0;
  int recoveries_ = 0;
};

TEST_F(RecoveryTest, LostRankRewindsToTheCheckpointAndTheNextAttemptResumesThere) {
  ASSERT_NO_FATAL_FAILURE(Start(TinyWithRestarts(3)));
  EXPECT_EQ(assignments_[Role::kLlm].attempt, 1);
  EXPECT_EQ(assignments_[Role::kLlm].start_step, 0);
  EXPECT_EQ(assignments_[Role::kLlm].resume_checkpoint, "");
  ASSERT_NO_FATAL_FAILURE(RunSteps(0, 3, 1));  // checkpoint step-2 committed, step 2 too
  ASSERT_EQ(orch_->GetJob(job_)->step, 3);
  ASSERT_EQ(Lines(run_dir() + "/metrics.jsonl").size(), 3u);

  ASSERT_TRUE(orch_->ReportFailure(ids_[Role::kLlm], job_, "recv from generator rank 0: connection reset", 1).ok());
  Job j = *orch_->GetJob(job_);
  EXPECT_EQ(j.state, JobState::kRecovering);
  EXPECT_EQ(j.reason, "llm rank 0 (worker " + ids_[Role::kLlm] +
                          ", pid 5001) failed at step 3 (recv from generator rank 0: connection reset), resuming from "
                          "step 2");
  EXPECT_EQ(j.step, 2);
  EXPECT_EQ(j.restarts, 1);
  EXPECT_EQ(recoveries_, 1);
  EXPECT_EQ(planner_.closed, std::vector<std::string>{job_});
  // Rewound: only steps 0 and 1 remain in the metrics and the ledger.
  EXPECT_EQ(Lines(run_dir() + "/metrics.jsonl").size(), 2u);
  EXPECT_EQ(Lines(run_dir() + "/ledger.jsonl").size(), 2u);
  EXPECT_EQ(Lines(run_dir() + "/timeline.jsonl").size(), 2u);
  // The other ranks are told to stop; the reporter is not.
  EXPECT_EQ(orch_->Heartbeat(ids_[Role::kEncoder], job_, 3)->command, Command::kCancelJob);
  EXPECT_EQ(orch_->Heartbeat(ids_[Role::kLlm], job_, 3)->command, Command::kNone);

  // A lost attempt's late report is refused.
  EXPECT_EQ(*Report(Role::kGenerator, 3, 1), Command::kCancelJob);

  // Released workers are not handed the next attempt until they poll again.
  orch_->Tick();
  EXPECT_EQ(orch_->GetJob(job_)->state, JobState::kRecovering);
  EXPECT_NE(orch_->GetJob(job_)->reason.find("resuming from step 2; waiting for"), std::string::npos)
      << orch_->GetJob(job_)->reason;
  for (Role r : kRoles) EXPECT_FALSE(orch_->GetAssignment(ids_[r], 0)->assigned);
  orch_->Tick();
  j = *orch_->GetJob(job_);
  ASSERT_EQ(j.state, JobState::kRunning);
  EXPECT_EQ(j.attempt, 2);
  ASSERT_NO_FATAL_FAILURE(Deliver());
  const Assignment& a = assignments_[Role::kGenerator];
  EXPECT_EQ(a.attempt, 2);
  EXPECT_EQ(a.start_step, 2);
  EXPECT_EQ(a.resume_checkpoint, run_dir() + "/checkpoints/step-2");
  EXPECT_EQ(a.rendezvous_prefix, "job/" + job_ + "/a2/");
  EXPECT_EQ(planner_.opened.size(), 2u);

  // The second attempt runs to the end; each step is in the ledger once.
  ASSERT_NO_FATAL_FAILURE(RunSteps(2, 4, 2));
  for (Role r : kRoles) ASSERT_TRUE(orch_->ReportDone(ids_[r], job_, 2).ok());
  j = *orch_->GetJob(job_);
  EXPECT_EQ(j.state, JobState::kSucceeded);
  const std::vector<std::string> ledger = Lines(run_dir() + "/ledger.jsonl");
  ASSERT_EQ(ledger.size(), 4u);
  for (int s = 0; s < 4; ++s) EXPECT_EQ(ledger[size_t(s)].rfind("{\"samples\":[" + std::to_string(s * 8), 0), 0u)
      << ledger[size_t(s)];
  ASSERT_GE(j.history.size(), 2u);
  EXPECT_NE(j.history[0].text.find("failed at step 3"), std::string::npos);
  EXPECT_EQ(j.history[1].text, "attempt 2 running from step 2");
}

TEST_F(RecoveryTest, CorruptNewestCheckpointIsSkippedForThePreviousOne) {
  ASSERT_NO_FATAL_FAILURE(Start(TinyWithRestarts(3)));
  ASSERT_NO_FATAL_FAILURE(RunSteps(0, 4, 1));  // step-2 and step-4
  // Corrupt step-4 (flip its shard), as a torn disk would.
  { std::ofstream(run_dir() + "/checkpoints/step-4/llm.safetensors", std::ios::trunc) << "xhard"; }
  ASSERT_TRUE(orch_->ReportFailure(ids_[Role::kEncoder], job_, "boom", 1).ok());
  const Job j = *orch_->GetJob(job_);
  EXPECT_EQ(j.state, JobState::kRecovering);
  EXPECT_EQ(j.resume_step, 2);
  EXPECT_EQ(j.resume_checkpoint, run_dir() + "/checkpoints/step-2");
  bool noted = false;
  for (const JobHistoryEvent& e : j.history) noted = noted || e.text.find("corrupt checkpoint skipped") == 0;
  EXPECT_TRUE(noted);
}

TEST_F(RecoveryTest, WithoutACheckpointTheJobRestartsFromStepZero) {
  ASSERT_NO_FATAL_FAILURE(Start(TinyWithRestarts(3)));
  ASSERT_NO_FATAL_FAILURE(RunSteps(0, 1, 1));
  // A half-written checkpoint dir of the lost attempt is removed.
  fs::create_directories(run_dir() + "/checkpoints/step-2.tmp");
  now_ = 6.0;  // nobody heartbeats: every worker is declared dead
  orch_->Tick();
  const Job j = *orch_->GetJob(job_);
  EXPECT_EQ(j.state, JobState::kRecovering);
  EXPECT_EQ(j.resume_step, 0);
  EXPECT_EQ(j.resume_checkpoint, "");
  EXPECT_TRUE(Lines(run_dir() + "/metrics.jsonl").empty());
  EXPECT_FALSE(fs::exists(run_dir() + "/checkpoints/step-2.tmp"));
  EXPECT_EQ(recoveries_, 1);  // one loss, although three workers died
}

TEST_F(RecoveryTest, SpentRetryBudgetFailsTheJobWithItsHistory) {
  ASSERT_NO_FATAL_FAILURE(Start(TinyWithRestarts(1)));
  ASSERT_TRUE(orch_->ReportFailure(ids_[Role::kGenerator], job_, "first", 1).ok());
  for (Role r : kRoles) (void)orch_->GetAssignment(ids_[r], 0);
  orch_->Tick();
  ASSERT_EQ(orch_->GetJob(job_)->state, JobState::kRunning);
  ASSERT_NO_FATAL_FAILURE(Deliver());
  // A failure report of the lost attempt changes nothing.
  ASSERT_TRUE(orch_->ReportFailure(ids_[Role::kLlm], job_, "stale", 1).ok());
  ASSERT_EQ(orch_->GetJob(job_)->state, JobState::kRunning);
  ASSERT_TRUE(orch_->ReportFailure(ids_[Role::kGenerator], job_, "second", 2).ok());
  const Job j = *orch_->GetJob(job_);
  EXPECT_EQ(j.state, JobState::kFailed);
  EXPECT_EQ(j.reason, "generator rank 0 (worker " + ids_[Role::kGenerator] +
                          ", pid 5002) failed at step 0 (second); no restarts left (reliability.max_restarts 1)");
  ASSERT_EQ(j.history.size(), 3u);
  EXPECT_NE(j.history[0].text.find("(first)"), std::string::npos);
  EXPECT_EQ(j.history[2].text, j.reason);
}

TEST_F(RecoveryTest, ZeroRestartsFailsAtTheFirstLoss) {
  ASSERT_NO_FATAL_FAILURE(Start(TinyWithRestarts(0)));
  ASSERT_TRUE(orch_->ReportFailure(ids_[Role::kLlm], job_, "out of memory", 1).ok());
  EXPECT_EQ(orch_->GetJob(job_)->state, JobState::kFailed);
  EXPECT_EQ(recoveries_, 0);
}

TEST_F(RecoveryTest, ResumeFromStartsANewJobAtTheCheckpointsStep) {
  ASSERT_NO_FATAL_FAILURE(Start(TinyWithRestarts(3)));
  ASSERT_NO_FATAL_FAILURE(RunSteps(0, 2, 1));
  const std::string first_run = run_dir();
  // A new job continuing the first one's run (any layout may load it).
  auto job = orch_->SubmitJob(testing_util::TinyJobYaml() + "  resume_from: " + first_run + "\n", "resume.yaml");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->resume_step, 2);
  EXPECT_EQ(job->resume_checkpoint, first_run + "/checkpoints/step-2");
  auto bad = orch_->SubmitJob(testing_util::TinyJobYaml() + "  resume_from: no/such/run\n", "bad.yaml");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().rfind("checkpoint.resume_from: ", 0), 0u) << bad.status().message();
}

}  // namespace
}  // namespace braid::orchestrator

namespace braid::orchestrator {
namespace {

TEST(JobStoreTest, JobsSurviveAReopenWithTheirHistory) {
  testing_util::ScopedTempDir dir("braid_jobstore_");
  const std::string db = dir.path() + "/orchestrator.db";
  Job a;
  a.id = "a-1";
  a.name = "a";
  a.state = JobState::kRecovering;
  a.reason = "llm rank 1 lost";
  a.layout.llm.dp = 3;
  a.step = 12;
  a.attempt = 2;
  a.restarts = 1;
  a.max_restarts = 3;
  a.resume_step = 8;
  a.resume_checkpoint = "/runs/a-1/checkpoints/step-8";
  a.history.push_back({1.5, "llm rank 1 lost at step 12"});
  Job b = a;
  b.id = "b-2";
  b.state = JobState::kSucceeded;
  {
    auto store = JobStore::Open(db);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->Put(a, "spec a").ok());
    ASSERT_TRUE((*store)->Put(b, "spec b").ok());
    a.step = 13;  // an update keeps the submission order
    ASSERT_TRUE((*store)->Put(a, "spec a2").ok());
  }
  auto store = JobStore::Open(db);
  ASSERT_TRUE(store.ok());
  auto jobs = (*store)->LoadAll();
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].job.id, "a-1");
  EXPECT_EQ((*jobs)[0].config_yaml, "spec a2");
  EXPECT_EQ((*jobs)[0].job.step, 13);
  EXPECT_EQ(JobToJson((*jobs)[0].job), JobToJson(a));
  EXPECT_EQ((*jobs)[1].job.state, JobState::kSucceeded);
}

TEST(JobStoreTest, ARecordThatDoesNotParseIsDataLossNamingTheJob) {
  EXPECT_EQ(JobFromJson(nlohmann::json{{"id", "x"}}).status().code(), StatusCode::kDataLoss);
  nlohmann::json j = JobToJson(Job{});
  j["state"] = 9;
  EXPECT_EQ(JobFromJson(j).status().code(), StatusCode::kDataLoss);
  testing_util::ScopedTempDir dir("braid_jobstore_");
  { std::ofstream(dir.path() + "/not.db") << "this is not an sqlite database, but a long enough text file........"; }
  auto store = JobStore::Open(dir.path() + "/not.db");
  EXPECT_FALSE(store.ok());
}

// A restarted orchestrator: a RUNNING job comes back RECOVERING from its
// newest checkpoint, and runs again once workers register.
TEST_F(RecoveryTest, ARestartedOrchestratorResumesItsRunningJobs) {
  const std::string db = root_.path() + "/orchestrator.db";
  {
    auto store = JobStore::Open(db);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(orch_->RestoreJobs(store->get()).ok());
    ASSERT_NO_FATAL_FAILURE(Start(TinyWithRestarts(3)));
    ASSERT_NO_FATAL_FAILURE(RunSteps(0, 3, 1));
    orch_->Shutdown();
    orch_.reset();  // the orchestrator dies
  }
  OrchestratorOptions opt;
  opt.runs_root = root_.path();
  orch_ = std::make_unique<Orchestrator>(opt, &planner_, [this] { return now_.load(); });
  auto store = JobStore::Open(db);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(orch_->RestoreJobs(store->get()).ok());
  Job j = *orch_->GetJob(job_);
  EXPECT_EQ(j.state, JobState::kRecovering);
  EXPECT_EQ(j.reason, "orchestrator restarted at step 3, resuming from step 2");
  EXPECT_EQ(j.resume_checkpoint, run_dir() + "/checkpoints/step-2");
  EXPECT_EQ(Lines(run_dir() + "/metrics.jsonl").size(), 2u);
  for (Role r : kRoles) ids_[r] = Register(r);
  orch_->Tick();
  j = *orch_->GetJob(job_);
  ASSERT_EQ(j.state, JobState::kRunning);
  EXPECT_EQ(j.attempt, 2);
  ASSERT_NO_FATAL_FAILURE(Deliver());
  EXPECT_EQ(assignments_[Role::kLlm].start_step, 2);
  ASSERT_NO_FATAL_FAILURE(RunSteps(2, 4, 2));
  for (Role r : kRoles) ASSERT_TRUE(orch_->ReportDone(ids_[r], job_, 2).ok());
  EXPECT_EQ(orch_->GetJob(job_)->state, JobState::kSucceeded);
  // ... and the store says so.
  orch_->Shutdown();
  orch_.reset();
  auto jobs = (*store)->LoadAll();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].job.state, JobState::kSucceeded);
  orch_ = std::make_unique<Orchestrator>(opt, &planner_, [this] { return now_.load(); });
}

}  // namespace
}  // namespace braid::orchestrator
