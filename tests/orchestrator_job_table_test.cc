// JobTable: validation before anything is created, ids, list order, cancel
// rules, events.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/base/clock.h"
#include "services/orchestrator/job_table.h"
#include "tests/temp_dir.h"
#include "tests/test_files.h"

namespace braid::orchestrator {
namespace {
namespace fs = std::filesystem;

using testing_util::TinyJobYaml;

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

constexpr double kT0 = 1.7e9;

TEST(JobTableTest, BadSpecIsInvalidArgumentWithFieldPathAndCreatesNothing) {
  testing_util::ScopedTempDir root("braid_jobs_");
  JobTable jobs(root.path(), [] { return kT0; });
  const std::string bad = Replace(TinyJobYaml(), "heads: 2, mlp_hidden", "heads: 3, mlp_hidden");
  StatusOr<Job> j = jobs.Submit(bad, "tiny.yaml");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(j.status().message().rfind("model.llm.heads: ", 0), 0u) << j.status().message();
  EXPECT_EQ(j.status().message().find('\n'), std::string::npos);

  StatusOr<Job> unknown = jobs.Submit(TinyJobYaml() + "bogus_key: 1\n", "tiny.yaml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("bogus_key"), std::string::npos) << unknown.status().message();

  EXPECT_TRUE(fs::is_empty(root.path()));
  EXPECT_TRUE(jobs.List().empty());
}

TEST(JobTableTest, IdsRunDirAndResolvedSpec) {
  testing_util::ScopedTempDir root("braid_jobs_");
  double now = kT0;
  JobTable jobs(root.path(), [&] { return now; });
  const std::string base = "tiny-" + LocalTimestamp(kT0);
  StatusOr<Job> a = jobs.Submit(TinyJobYaml());
  StatusOr<Job> b = jobs.Submit(TinyJobYaml());
  StatusOr<Job> c = jobs.Submit(TinyJobYaml());
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status().ToString();
  EXPECT_EQ(a->id, base);
  EXPECT_EQ(b->id, base + "-2");
  EXPECT_EQ(c->id, base + "-3");
  EXPECT_EQ(a->state, JobState::kPending);
  EXPECT_FALSE(a->reason.empty());
  EXPECT_EQ(a->total_steps, 4);
  EXPECT_EQ(fs::path(a->run_dir), fs::path(root.path()) / "runs" / base);
  ASSERT_TRUE(fs::exists(fs::path(a->run_dir) / "job.yaml"));
  StatusOr<JobConfig> written = LoadJobConfig(a->run_dir + "/job.yaml");
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(*written, *ParseJobConfig(TinyJobYaml()));

  // A run dir left by an earlier orchestrator is a collision too.
  now = kT0 + 60;
  fs::create_directories(fs::path(root.path()) / "runs" / ("tiny-" + LocalTimestamp(now)));
  StatusOr<Job> d = jobs.Submit(TinyJobYaml());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->id, "tiny-" + LocalTimestamp(now) + "-2");
}

TEST(JobTableTest, LayoutTheRuntimeCannotRunIsUnimplementedAndCreatesNothing) {
  testing_util::ScopedTempDir root("braid_jobs_");
  JobTable jobs(root.path(), [] { return kT0; });
  for (const auto& [layout, field] :
       {std::pair{"generator: {dp: 1, tp: 2, pp: 1}", "parallel.generator.tp: 2"},
        std::pair{"encoder: {dp: 1, tp: 1, pp: 2}", "parallel.encoder.pp: 2"}}) {
    const std::string two_layers = Replace(TinyJobYaml(), "layers: 1, heads: 2, mlp_ratio", "layers: 2, heads: 2, mlp_ratio");
    const std::string yaml = two_layers + "parallel:\n  " + layout + "\n";
    StatusOr<Job> j = jobs.Submit(yaml, "tiny.yaml");
    ASSERT_EQ(j.status().code(), StatusCode::kUnimplemented) << layout << ": " << j.status().ToString();
    EXPECT_EQ(j.status().message().rfind(field, 0), 0u) << j.status().message();
  }
  EXPECT_FALSE(fs::exists(fs::path(root.path()) / "runs"));
  EXPECT_TRUE(jobs.List().empty());
}

TEST(JobTableTest, AbsoluteCheckpointDirInsideTheRunsRootIsUsedAsIs) {
  testing_util::ScopedTempDir root("braid_jobs_");
  JobTable jobs(root.path(), [] { return kT0; });
  const std::string inside = root.path() + "/team/a";
  StatusOr<Job> j = jobs.Submit(Replace(TinyJobYaml(), "dir: runs", "dir: " + inside));
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(fs::path(j->run_dir), fs::weakly_canonical(inside) / j->id);
}

TEST(JobTableTest, CheckpointDirOutsideTheRunsRootIsRefused) {
  testing_util::ScopedTempDir root("braid_jobs_");
  testing_util::ScopedTempDir elsewhere("braid_jobs_abs_");
  JobTable jobs(root.path(), [] { return kT0; });
  fs::create_symlink(elsewhere.path(), root.path() + "/link");
  for (const std::string& dir : {elsewhere.path(), std::string("../escape"), std::string("runs/../../escape"),
                                 std::string("link/runs")}) {
    StatusOr<Job> j = jobs.Submit(Replace(TinyJobYaml(), "dir: runs", "dir: " + dir));
    ASSERT_EQ(j.status().code(), StatusCode::kInvalidArgument) << dir;
    EXPECT_EQ(j.status().message().rfind("checkpoint.dir: ", 0), 0u) << j.status().message();
    EXPECT_NE(j.status().message().find("is outside the runs root"), std::string::npos) << j.status().message();
  }
  EXPECT_TRUE(fs::is_empty(elsewhere.path()));
  EXPECT_TRUE(jobs.List().empty());
}

TEST(JobTableTest, ListIsNewestFirst) {
  testing_util::ScopedTempDir root("braid_jobs_");
  double now = kT0;
  JobTable jobs(root.path(), [&] { return now; });
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i, now += 1) ids.push_back(jobs.Submit(TinyJobYaml())->id);
  const std::vector<Job> list = jobs.List();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].id, ids[2]);
  EXPECT_EQ(list[1].id, ids[1]);
  EXPECT_EQ(list[2].id, ids[0]);
}

TEST(JobTableTest, CancelRules) {
  testing_util::ScopedTempDir root("braid_jobs_");
  JobTable jobs(root.path(), [] { return kT0; });
  const std::string id = jobs.Submit(TinyJobYaml())->id;
  StatusOr<Job> c = jobs.Cancel(id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, JobState::kCancelled);
  EXPECT_EQ(jobs.Cancel(id).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(jobs.Cancel("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(jobs.Get("nope").status().code(), StatusCode::kNotFound);

  const std::string running = jobs.Submit(TinyJobYaml())->id;
  ASSERT_TRUE(jobs.MarkRunning(running, Layout{}).ok());
  StatusOr<Job> with_reason = jobs.Cancel(running, "llm-0 exited with code 1");
  ASSERT_TRUE(with_reason.ok());
  EXPECT_EQ(with_reason->state, JobState::kCancelled);
  EXPECT_EQ(with_reason->reason, "cancelled: llm-0 exited with code 1");
  EXPECT_EQ(jobs.MarkFinal(running, JobState::kFailed, "x").code(), StatusCode::kFailedPrecondition);
}

TEST(JobTableTest, WaitEventsBlocksUntilAnEventOrTheTimeout) {
  testing_util::ScopedTempDir root("braid_jobs_");
  JobTable jobs(root.path(), [] { return kT0; });
  const std::string id = jobs.Submit(TinyJobYaml())->id;
  const int64_t seq = jobs.Snapshot(id)->seq;
  EXPECT_TRUE(jobs.WaitEvents(id, seq, 0.05)->empty());
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (void)jobs.MarkRunning(id, Layout{});
  });
  StatusOr<std::vector<JobTable::Event>> ev = jobs.WaitEvents(id, seq, 10);
  t.join();
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 1u);
  EXPECT_EQ((*ev)[0].kind, JobTable::EventKind::kStateChanged);
  EXPECT_EQ((*ev)[0].job.state, JobState::kRunning);
  EXPECT_EQ(jobs.WaitEvents("nope", 0, 0).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace braid::orchestrator
