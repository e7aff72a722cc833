// WorkerTable: protocol version refusal, death by fake clock, commands,
// assignment long-poll.
#include <gtest/gtest.h>

#include <thread>

#include "services/orchestrator/worker_table.h"

namespace braid::orchestrator {
namespace {

WorkerRegistration Reg(Role role, int pid = 100, int version = kProtocolVersion) {
  WorkerRegistration r;
  r.role = role;
  r.host = "127.0.0.1";
  r.pid = pid;
  r.protocol_version = version;
  return r;
}

TEST(WorkerTableTest, RefusesAnotherProtocolVersionNamingBoth) {
  WorkerTable t(1, 5, [] { return 0.0; });
  StatusOr<WorkerInfo> w = t.Register(Reg(Role::kLlm, 1, 2));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(w.status().message(), "worker speaks protocol version 2, orchestrator speaks 1");
  EXPECT_TRUE(t.Idle(Role::kLlm).empty());
}

TEST(WorkerTableTest, IdsFollowRegistrationOrder) {
  WorkerTable t(1, 5, [] { return 0.0; });
  EXPECT_EQ(t.Register(Reg(Role::kLlm))->id, "w-1");
  EXPECT_EQ(t.Register(Reg(Role::kEncoder))->id, "w-2");
  EXPECT_EQ(t.Register(Reg(Role::kLlm))->id, "w-3");
  const auto idle = t.Idle(Role::kLlm);
  ASSERT_EQ(idle.size(), 2u);
  EXPECT_EQ(idle[0].id, "w-1");
  EXPECT_EQ(idle[1].id, "w-3");
}

TEST(WorkerTableTest, DeadAfterTheHeartbeatTimeoutWithAFakeClock) {
  double now = 0;
  WorkerTable t(1, 5, [&] { return now; });
  const std::string a = t.Register(Reg(Role::kLlm, 11))->id;
  const std::string b = t.Register(Reg(Role::kEncoder, 12))->id;
  now = 4.9;
  EXPECT_TRUE(t.RemoveDead().empty());
  ASSERT_TRUE(t.Heartbeat(a, "").ok());
  now = 5.5;  // b: 5.5 s silent
  std::vector<WorkerInfo> dead = t.RemoveDead();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id, b);
  EXPECT_EQ(DescribeWorker(dead[0]), "encoder (worker w-2, pid 12)");
  EXPECT_TRUE(t.RemoveDead().empty());  // reported once
  EXPECT_EQ(t.Heartbeat(b, "").status().code(), StatusCode::kNotFound);
  now = 9.8;
  EXPECT_TRUE(t.RemoveDead().empty());
  now = 10.0;
  ASSERT_EQ(t.RemoveDead().size(), 1u);
}

TEST(WorkerTableTest, CancelIsDeliveredOnlyWhileTheWorkerIsOnThatJob) {
  WorkerTable t(1, 5, [] { return 0.0; });
  const std::string w = t.Register(Reg(Role::kLlm))->id;
  Assignment a;
  a.job_id = "j1";
  a.role = Role::kLlm;
  ASSERT_TRUE(t.Assign(w, a).ok());
  EXPECT_EQ(t.Assign(w, a).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(t.WaitForAssignment(w, 0)->assigned);
  EXPECT_EQ(t.WorkersOf("j1").size(), 1u);
  t.ReleaseJob("j1", true, "job failed");
  EXPECT_EQ(t.WorkersOf("j1").size(), 0u);
  // Not handed new work until it polls again (it may still be in j1, or dead).
  EXPECT_EQ(t.Idle(Role::kLlm).size(), 0u);
  EXPECT_EQ(t.CountBusy(Role::kLlm), 1);
  StatusOr<WorkerCommand> c = t.Heartbeat(w, "j1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->command, Command::kCancelJob);
  EXPECT_EQ(c->job_id, "j1");
  EXPECT_EQ(t.Heartbeat(w, "j1")->command, Command::kNone);
  EXPECT_FALSE(t.WaitForAssignment(w, 0)->assigned);
  EXPECT_EQ(t.Idle(Role::kLlm).size(), 1u);

  // A stale cancel (the worker already moved on) is dropped.
  ASSERT_TRUE(t.Assign(w, a).ok());
  ASSERT_TRUE(t.WaitForAssignment(w, 0)->assigned);
  t.ReleaseJob("j1", true, "job failed");
  EXPECT_EQ(t.Heartbeat(w, "")->command, Command::kNone);
}

TEST(WorkerTableTest, AssignmentLongPollWakesAndTimesOut) {
  WorkerTable t(1, 5);
  const std::string w = t.Register(Reg(Role::kGenerator))->id;
  StatusOr<WorkerTable::Poll> none = t.WaitForAssignment(w, 0.05);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->assigned);
  std::thread th([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Assignment a;
    a.job_id = "j";
    a.role = Role::kGenerator;
    a.rank = 0;
    (void)t.Assign(w, a);
  });
  StatusOr<WorkerTable::Poll> p = t.WaitForAssignment(w, 10);
  th.join();
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p->assigned);
  EXPECT_EQ(p->assignment.job_id, "j");
  ASSERT_TRUE(t.QueueCommand(w, {Command::kShutdown, "", "bye"}).ok());
  EXPECT_EQ(t.WaitForAssignment(w, 10)->command.command, Command::kShutdown);
  EXPECT_EQ(t.WaitForAssignment("w-99", 0).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace braid::orchestrator
