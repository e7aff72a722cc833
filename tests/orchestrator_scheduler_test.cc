// Scheduler: the pending reason, rank assignment for a 3/2/1 layout, and a
// DataPlanner failure failing the job.
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include "services/orchestrator/scheduler.h"
#include "tests/temp_dir.h"
#include "tests/test_files.h"

namespace braid::orchestrator {
namespace {

// tiny.yaml with an explicit layout (append "  auto_layout: true\n" to the
// result for `parallel: auto`).
std::string YamlWithLayout(int enc, int llm, int gen) {
  return testing_util::TinyJobYaml() + "parallel:\n  encoder: {dp: " + std::to_string(enc) + "}\n  llm: {dp: " + std::to_string(llm) +
         "}\n  generator: {dp: " + std::to_string(gen) + "}\n";
}

class FakePlanner : public DataPlanner {
 public:
  explicit FakePlanner(WorkerTable* workers) : workers_(workers) {}
  Status OpenJob(const std::string& job_id, const std::string& yaml, const Layout& layout) override {
    ++opened;
    last_job = job_id;
    last_yaml = yaml;
    last_layout = layout;
    for (Role r : kRoles) busy_when_opened += workers_->CountBusy(r);
    return fail;
  }
  void CloseJob(const std::string& job_id) override { closed.push_back(job_id); }
  std::string address() const override { return "127.0.0.1:7777"; }

  WorkerTable* workers_;
  Status fail;
  int opened = 0, busy_when_opened = 0;
  std::string last_job, last_yaml;
  Layout last_layout;
  std::vector<std::string> closed;
};

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest()
      : root_("braid_sched_"),
        jobs_(root_.path(), [] { return 1.7e9; }),
        workers_(1, 5, [] { return 0.0; }),
        planner_(&workers_),
        scheduler_(&jobs_, &workers_, &planner_, &mu_) {}

  std::string Add(Role role) {
    WorkerRegistration r;
    r.role = role;
    r.pid = 1000 + next_pid_++;
    r.protocol_version = kProtocolVersion;
    return workers_.Register(r)->id;
  }

  testing_util::ScopedTempDir root_;
  JobTable jobs_;
  WorkerTable workers_;
  FakePlanner planner_;
  std::mutex mu_;
  Scheduler scheduler_;
  int next_pid_ = 0;
};

TEST_F(SchedulerTest, PendingReasonNamesEveryMissingRole) {
  const std::string id = jobs_.Submit(YamlWithLayout(3, 2, 1))->id;
  Add(Role::kEncoder);
  Add(Role::kLlm);
  Add(Role::kGenerator);
  EXPECT_FALSE(scheduler_.RunOnce().has_value());
  EXPECT_EQ(jobs_.Get(id)->state, JobState::kPending);
  EXPECT_EQ(jobs_.Get(id)->reason, "waiting for 3 encoder workers (1 registered), 2 llm workers (1 registered)");
  EXPECT_EQ(planner_.opened, 0);

  Add(Role::kEncoder);
  Add(Role::kEncoder);
  EXPECT_FALSE(scheduler_.RunOnce().has_value());
  EXPECT_EQ(jobs_.Get(id)->reason, "waiting for 2 llm workers, 1 registered");

  EXPECT_EQ(Scheduler::PendingReason(Layout{}, {1, 0, 1}, {0, 0, 0}), "waiting for 1 llm worker, 0 registered");
  EXPECT_EQ(Scheduler::PendingReason(Layout{}, {1, 0, 1}, {0, 1, 0}), "waiting for 1 llm worker, 1 registered (1 busy)");
  EXPECT_EQ(Scheduler::PendingReason(Layout{}, {1, 1, 1}, {0, 0, 0}), "");
}

TEST_F(SchedulerTest, AssignsRanksByRegistrationOrderAfterOpeningTheJob) {
  // Interleaved registration: ranks follow it within each role.
  const std::string e0 = Add(Role::kEncoder), l0 = Add(Role::kLlm), e1 = Add(Role::kEncoder);
  const std::string g0 = Add(Role::kGenerator), l1 = Add(Role::kLlm), e2 = Add(Role::kEncoder);
  const std::string spare = Add(Role::kLlm);
  const Job job = *jobs_.Submit(YamlWithLayout(3, 2, 1));
  std::optional<StartedJob> s = scheduler_.RunOnce();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(jobs_.Get(job.id)->state, JobState::kRunning);
  EXPECT_EQ(jobs_.Get(job.id)->reason, "");
  EXPECT_EQ(planner_.opened, 1);
  EXPECT_EQ(planner_.busy_when_opened, 0);  // OpenJob before any assignment
  EXPECT_EQ(planner_.last_layout.encoder.dp, 3);
  EXPECT_EQ(planner_.last_layout.llm.dp, 2);
  EXPECT_EQ(planner_.last_layout.generator.dp, 1);

  const std::vector<std::pair<std::string, std::pair<Role, int>>> want = {
      {e0, {Role::kEncoder, 0}}, {e1, {Role::kEncoder, 1}}, {e2, {Role::kEncoder, 2}},
      {l0, {Role::kLlm, 0}},     {l1, {Role::kLlm, 1}},     {g0, {Role::kGenerator, 0}}};
  ASSERT_EQ(s->worker_ids.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(s->worker_ids[i], want[i].first) << i;
    StatusOr<WorkerTable::Poll> p = workers_.WaitForAssignment(want[i].first, 0);
    ASSERT_TRUE(p.ok() && p->assigned) << want[i].first;
    const Assignment& a = p->assignment;
    EXPECT_EQ(a.job_id, job.id);
    EXPECT_EQ(a.role, want[i].second.first);
    EXPECT_EQ(a.rank, want[i].second.second);
    EXPECT_EQ(a.layout, planner_.last_layout);
    EXPECT_EQ(a.reorderer_address, "127.0.0.1:7777");
    EXPECT_EQ(a.rendezvous_prefix, "job/" + job.id + "/a1/");
    EXPECT_EQ(a.attempt, 1);
    EXPECT_EQ(a.run_dir, job.run_dir);
    EXPECT_EQ(a.start_step, 0);
    EXPECT_EQ(a.job_yaml, planner_.last_yaml);
    StatusOr<JobConfig> cfg = ParseJobConfig(a.job_yaml);
    ASSERT_TRUE(cfg.ok());
    EXPECT_EQ(cfg->parallel.encoder.dp, 3);
  }
  EXPECT_EQ(workers_.Idle(Role::kLlm).size(), 1u);
  EXPECT_EQ(workers_.Idle(Role::kLlm)[0].id, spare);
  EXPECT_FALSE(scheduler_.RunOnce().has_value());  // nothing pending
}

// Without a planner, `parallel: auto` runs 1/1/1 whatever layout is spelled:
// 3/2/1 here, which the three registered workers could not start.
TEST_F(SchedulerTest, AutoLayoutRunsAsOneWorkerPerModule) {
  const std::string id = jobs_.Submit(YamlWithLayout(3, 2, 1) + "  auto_layout: true\n")->id;
  Add(Role::kEncoder);
  Add(Role::kLlm);
  Add(Role::kGenerator);
  ASSERT_TRUE(scheduler_.RunOnce().has_value()) << jobs_.Get(id)->reason;
  EXPECT_EQ(jobs_.Get(id)->layout, Layout{});
}

TEST_F(SchedulerTest, DataPlannerFailureFailsTheJobWithItsMessage) {
  Add(Role::kEncoder);
  Add(Role::kLlm);
  Add(Role::kGenerator);
  // A reorderer that is down (restarting) makes the job wait, not fail.
  planner_.fail = Status::Unavailable("reorderer at 127.0.0.1:7777 is down");
  const std::string id = jobs_.Submit(YamlWithLayout(1, 1, 1))->id;
  const std::string second = jobs_.Submit(YamlWithLayout(1, 1, 1))->id;
  EXPECT_FALSE(scheduler_.RunOnce().has_value());
  EXPECT_EQ(jobs_.Get(id)->state, JobState::kPending);
  EXPECT_EQ(jobs_.Get(id)->reason, "waiting for the reorderer: reorderer at 127.0.0.1:7777 is down");
  // One that refuses the job fails it with its message.
  planner_.fail = Status::InvalidArgument("data.fashion_mnist: no such directory");
  EXPECT_FALSE(scheduler_.RunOnce().has_value());
  EXPECT_EQ(jobs_.Get(id)->state, JobState::kFailed);
  EXPECT_EQ(jobs_.Get(id)->reason,
            "reorderer could not open the job: INVALID_ARGUMENT: data.fashion_mnist: no such directory");
  EXPECT_EQ(jobs_.Get(second)->reason, "queued behind " + id);
  for (Role r : kRoles) EXPECT_EQ(workers_.CountBusy(r), 0);

  planner_.fail = Status::Ok();
  ASSERT_TRUE(scheduler_.RunOnce().has_value());
  EXPECT_EQ(jobs_.Get(second)->state, JobState::kRunning);
}


// `parallel: auto` with a planner: it runs once, without the state mutex,
// with the idle workers per role as limits; its layout is what the job runs
// with and what the run directory's job.yaml records; its error fails the job.
class AutoLayoutSchedulerTest : public SchedulerTest {
 protected:
  AutoLayoutSchedulerTest()
      : auto_scheduler_(&jobs_, &workers_, &planner_, &mu_, nullptr,
                        [this](const JobConfig&, const std::array<int, 3>& w) -> StatusOr<Layout> {
                          ++calls_;
                          seen_ = w;
                          mutex_free_ = mu_.try_lock();
                          if (mutex_free_) mu_.unlock();
                          if (!fail_.ok()) return fail_;
                          Layout l;
                          l.encoder.dp = 2;
                          l.llm.dp = 1;
                          l.generator.dp = 1;
                          return l;
                        }) {}
  Scheduler auto_scheduler_;
  int calls_ = 0;
  bool mutex_free_ = false;
  std::array<int, 3> seen_{};
  Status fail_;
};

TEST_F(AutoLayoutSchedulerTest, PlansOnceWithIdleWorkersAndRecordsTheLayout) {
  const std::string id = jobs_.Submit(YamlWithLayout(1, 1, 1) + "  auto_layout: true\n")->id;
  Add(Role::kEncoder);
  Add(Role::kLlm);
  EXPECT_FALSE(auto_scheduler_.RunOnce().has_value());
  EXPECT_EQ(calls_, 0);
  EXPECT_EQ(jobs_.Get(id)->reason, "parallel: auto: waiting for at least one idle worker of: generator");
  Add(Role::kEncoder);
  Add(Role::kGenerator);
  Add(Role::kGenerator);
  std::optional<StartedJob> started;
  for (int pass = 0; pass < 3 && !started; ++pass) started = auto_scheduler_.RunOnce();
  ASSERT_TRUE(started.has_value()) << jobs_.Get(id)->reason;
  EXPECT_EQ(calls_, 1);
  EXPECT_TRUE(mutex_free_);
  EXPECT_EQ(seen_, (std::array<int, 3>{2, 1, 2}));
  EXPECT_EQ(started->layout.encoder.dp, 2);
  EXPECT_EQ(started->assignments.size(), 4u);
  std::ifstream in(jobs_.Get(id)->run_dir + "/job.yaml");
  std::stringstream yaml;
  yaml << in.rdbuf();
  EXPECT_NE(yaml.str().find("auto_layout: false"), std::string::npos) << yaml.str();
  EXPECT_NE(yaml.str().find("encoder: {dp: 2"), std::string::npos) << yaml.str();
}

TEST_F(AutoLayoutSchedulerTest, PlanningErrorFailsTheJob) {
  fail_ = Status::FailedPrecondition("no layout fits");
  const std::string id = jobs_.Submit(YamlWithLayout(1, 1, 1) + "  auto_layout: true\n")->id;
  Add(Role::kEncoder);
  Add(Role::kLlm);
  Add(Role::kGenerator);
  EXPECT_FALSE(auto_scheduler_.RunOnce().has_value());
  EXPECT_EQ(jobs_.Get(id)->state, JobState::kFailed);
  EXPECT_EQ(jobs_.Get(id)->reason, "parallel: auto: FAILED_PRECONDITION: no layout fits");
}

}  // namespace
}  // namespace braid::orchestrator
