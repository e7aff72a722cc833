// StepCommitter: a hand-computed step of a 1/2/1 layout (exact metrics and
// ledger lines, timeline), ordering, and checkpoint finalization that
// common/checkpoint accepts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/checkpoint/checkpoint.h"
#include "services/orchestrator/step_committer.h"
#include "tests/temp_dir.h"

namespace braid::orchestrator {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

StepReport Report(Role role, int rank, int64_t step) {
  StepReport r;
  r.job_id = "j";
  r.role = role;
  r.rank = rank;
  r.step = step;
  r.global_text_targets = 40;
  r.global_gen_targets = 4;
  r.lr = 0.001;
  return r;
}

// Layout encoder 1, llm 2, generator 1; step 0:
//   llm0: text_sum 6, tokens 100, samples [5,3,9,1] (the whole step), 1.0 s,
//         spans COMPUTE .6, RECV_WAIT .2, SEND .1, TRANSFER_WAIT .05;
//         4 messages in transit .3 s (lower bound); grad_norm .5
//   llm1: text_sum 4, tokens 80, 1.5 s, spans COMPUTE .8, ALLREDUCE .2
//   gen0: gen_sum 2, 1.2 s, spans COMPUTE .5, OPTIMIZER .1; grad_norm .25
//   enc0: 0.9 s, spans COMPUTE .4; grad_norm .75; 3 images
// For the metrics: images 3, gen_targets 4, bubble ratio = RECV_WAIT over
// every rank's step time = .2 / (1.0 + 1.5 + 1.2 + .9).
// text_loss = 10/40 = .25, gen_loss = 2/4 = .5, loss = .75, tokens 180,
// samples 4, step_seconds 1.5; llm timeline: compute (.6+.8)/2 = .7,
// communication (transit .3 + send .1 + all-reduce .2)/2 = .3, exposed
// (transfer wait .05 + send .1 + all-reduce .2)/2 = .175, bubble .2/2 = .1.
std::vector<StepReport> StepZero() {
  StepReport l0 = Report(Role::kLlm, 0, 0);
  l0.text_loss_sum = 6;
  l0.tokens = 100;
  l0.sample_ids = {5, 3, 9, 1};
  l0.step_seconds = 1.0;
  l0.spans = {{SpanKind::kCompute, 0, 0, 0.6},
              {SpanKind::kRecvWait, 0, 0, 0.2},
              {SpanKind::kSend, 0, 0, 0.1},
              {SpanKind::kTransferWait, 0, 0, 0.05}};
  l0.transfer_seconds_min = 0.3;
  l0.transfer_seconds_max = 0.4;
  l0.messages = 4;
  l0.grad_norm = 0.5;
  StepReport l1 = Report(Role::kLlm, 1, 0);
  l1.text_loss_sum = 4;
  l1.tokens = 80;
  l1.step_seconds = 1.5;
  l1.spans = {{SpanKind::kCompute, 0, 0, 0.8}, {SpanKind::kAllreduce, 0, 0, 0.2}};
  l1.grad_norm = 0.5;
  StepReport g0 = Report(Role::kGenerator, 0, 0);
  g0.gen_loss_sum = 2;
  g0.step_seconds = 1.2;
  g0.spans = {{SpanKind::kCompute, 0, 0, 0.5}, {SpanKind::kOptimizer, 0, 0, 0.1}};
  g0.grad_norm = 0.25;
  StepReport e0 = Report(Role::kEncoder, 0, 0);
  e0.step_seconds = 0.9;
  e0.spans = {{SpanKind::kCompute, 0, 0, 0.4}};
  e0.grad_norm = 0.75;
  e0.images = 3;
  return {l0, l1, g0, e0};
}

class StepCommitterTest : public ::testing::Test {
 protected:
  StepCommitterTest() : run_("braid_commit_") {
    job_.job_id = "j";
    job_.run_dir = run_.path();
    job_.layout.llm.dp = 2;
    job_.total_steps = 2;
    job_.checkpoint_keep = 2;
    job_.job_yaml = "name: j\n";
    job_.seed = 7;
    job_.global_batch = 8;
  }
  testing_util::ScopedTempDir run_;
  CommitterJob job_;
  StepCommitter c_;
};

TEST_F(StepCommitterTest, CommitsTheHandComputedStepInTheTrainersFormat) {
  ASSERT_TRUE(c_.StartJob(job_).ok());
  const std::vector<StepReport> reports = StepZero();
  for (size_t i = 0; i + 1 < reports.size(); ++i) {
    StatusOr<std::vector<StepCommit>> r = c_.Add(reports[i]);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->empty());
  }
  EXPECT_TRUE(Lines(run_.path() + "/metrics.jsonl").empty());
  StatusOr<std::vector<StepCommit>> r = c_.Add(reports.back());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  const StepCommit& commit = (*r)[0];
  EXPECT_EQ(commit.step, 0);
  EXPECT_FALSE(commit.last);
  EXPECT_DOUBLE_EQ(commit.metrics.loss, 0.75);
  EXPECT_DOUBLE_EQ(commit.metrics.tokens_per_second, 120.0);
  EXPECT_TRUE(commit.checkpoint_dir.empty());
  EXPECT_EQ(commit.metrics.images, 3);
  EXPECT_EQ(commit.metrics.gen_targets, 4);
  EXPECT_NEAR(commit.metrics.bubble_ratio, 0.2 / 4.6, 1e-12);

  EXPECT_EQ(Lines(run_.path() + "/metrics.jsonl"),
            std::vector<std::string>{
                R"({"gen_loss":0.5,"gen_targets":4,"grad_norm":{"encoder":0.75,"generator":0.25,"llm":0.5},)"
                R"("loss":0.75,"lr":0.001,"samples":4,"step":0,"step_seconds":1.5,"text_loss":0.25,)"
                R"("text_tokens":40,"tokens":180})"});
  EXPECT_EQ(Lines(run_.path() + "/ledger.jsonl"), std::vector<std::string>{R"({"samples":[5,3,9,1],"step":0})"});

  ASSERT_EQ(commit.timeline.size(), 3u);
  const ModuleTimeline& llm = commit.timeline[1];
  EXPECT_EQ(llm.module, Role::kLlm);
  EXPECT_NEAR(llm.compute_seconds, 0.7, 1e-12);
  EXPECT_NEAR(llm.communication_seconds, 0.3, 1e-12);
  EXPECT_NEAR(llm.exposed_communication_seconds, 0.175, 1e-12);
  EXPECT_NEAR(llm.bubble_seconds, 0.1, 1e-12);
  EXPECT_EQ(llm.messages, 4);
  EXPECT_NEAR(commit.timeline[2].compute_seconds, 0.6, 1e-12);

  // A retry of a committed step is ignored.
  EXPECT_TRUE(c_.Add(reports[0])->empty());
  EXPECT_EQ(Lines(run_.path() + "/metrics.jsonl").size(), 1u);
}

TEST_F(StepCommitterTest, StepsCommitInOrderAndBadReportsAreRefused) {
  ASSERT_TRUE(c_.StartJob(job_).ok());
  std::vector<StepReport> one = StepZero();
  for (StepReport& r : one) r.step = 1;
  for (const StepReport& r : one) EXPECT_TRUE(c_.Add(r)->empty());  // waits for step 0
  std::vector<StepReport> zero = StepZero();
  for (size_t i = 0; i + 1 < zero.size(); ++i) ASSERT_TRUE(c_.Add(zero[i]).ok());
  StatusOr<std::vector<StepCommit>> both = c_.Add(zero.back());
  ASSERT_TRUE(both.ok());
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[0].step, 0);
  EXPECT_EQ((*both)[1].step, 1);
  EXPECT_TRUE((*both)[1].last);
  EXPECT_EQ(c_.next_step("j"), 2);

  StepReport bad = Report(Role::kLlm, 2, 0);
  EXPECT_EQ(c_.Add(bad).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c_.Add(Report(Role::kLlm, 0, 2)).status().code(), StatusCode::kOutOfRange);
  StepReport other = Report(Role::kLlm, 0, 0);
  other.job_id = "nope";
  EXPECT_EQ(c_.Add(other).status().code(), StatusCode::kNotFound);
}

// With wall-clock starts, step_seconds is the period between the ends of
// consecutive steps (the last rank of each), and timeline.jsonl puts every
// rank's spans on one axis from the step's earliest start.
TEST_F(StepCommitterTest, StepSecondsIsTheWallClockPeriodAndTheTimelineIsWritten) {
  ASSERT_TRUE(c_.StartJob(job_).ok());
  const double t0 = 1.0e9;
  // Step 0: ranks start at t0 + {0, .1, .2, .3}; the last end is llm1 at
  // t0 + .1 + 1.5 = t0 + 1.6.
  std::vector<StepReport> zero = StepZero();
  for (size_t i = 0; i < zero.size(); ++i) zero[i].step_start_unix = t0 + 0.1 * double(i);
  zero[0].plan_imbalance = {1.5, 1.25, 1.0};  // LLM rank 0 relays the reorderer's plan stats
  zero[0].plan_solve_ms = 0.5;
  // Step 1 overlaps step 0's tail: ranks start at t0 + 1.5 and end by
  // t0 + 1.5 + 1.5 = t0 + 3.0, so its period is 3.0 - 1.6 = 1.4 (less than
  // its longest rank, 1.5).
  std::vector<StepReport> one = StepZero();
  for (StepReport& r : one) {
    r.step = 1;
    r.step_start_unix = t0 + 1.5;
  }
  std::vector<StepCommit> commits;
  for (const std::vector<StepReport>* step : {&zero, &one})
    for (const StepReport& r : *step) {
      StatusOr<std::vector<StepCommit>> c = c_.Add(r);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      for (StepCommit& x : *c) commits.push_back(std::move(x));
    }
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_NEAR(commits[0].metrics.step_seconds, 1.5, 1e-9);  // no predecessor: the longest rank
  EXPECT_NEAR(commits[1].metrics.step_seconds, 1.4, 1e-6);
  const std::vector<std::string> metrics = Lines(run_.path() + "/metrics.jsonl");
  ASSERT_EQ(metrics.size(), 2u);
  const nlohmann::json m0 = nlohmann::json::parse(metrics[0]);
  EXPECT_EQ(m0["imbalance"], nlohmann::json({{"encoder", 1.5}, {"llm", 1.25}, {"generator", 1.0}}));
  EXPECT_DOUBLE_EQ(m0["plan_ms"].get<double>(), 0.5);
  EXPECT_FALSE(nlohmann::json::parse(metrics[1]).contains("imbalance"));

  const std::vector<std::string> lines = Lines(run_.path() + "/timeline.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  const nlohmann::json t = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(t["step"], 0);
  EXPECT_NEAR(t["start_unix"].get<double>(), t0, 1e-6);
  ASSERT_EQ(t["ranks"].size(), 4u);
  bool saw_llm1 = false;
  for (const auto& r : t["ranks"]) {
    if (r["module"] != "llm" || r["rank"] != 1) continue;
    saw_llm1 = true;
    EXPECT_NEAR(r["start"].get<double>(), 0.1, 1e-6);
    EXPECT_NEAR(r["seconds"].get<double>(), 1.5, 1e-12);
    ASSERT_EQ(r["spans"].size(), 2u);
    EXPECT_EQ(r["spans"][1][0], "allreduce");
    EXPECT_NEAR(r["spans"][1][3].get<double>(), 0.2, 1e-12);
  }
  EXPECT_TRUE(saw_llm1);
}

TEST_F(StepCommitterTest, FinalizesTheCheckpointWhenEveryModuleWroteItsShard) {
  ASSERT_TRUE(c_.StartJob(job_).ok());
  // Workers: DP rank 0 of each module writes its shard into step-1.tmp/.
  const std::string tmp = run_.path() + "/checkpoints/step-1.tmp";
  std::vector<std::unique_ptr<ParamBuffer>> buffers;
  for (Role role : kRoles) {
    auto pb = std::make_unique<ParamBuffer>();
    pb->Add("w", {2, 3});
    pb->Allocate();
    for (int i = 0; i < 6; ++i) pb->params()[i] = float(i) + float(RoleIndex(role));
    ASSERT_TRUE(WriteModuleShard(tmp, {RoleName(role), pb.get(), nullptr}).ok());
    buffers.push_back(std::move(pb));
  }
  std::vector<StepReport> reports = StepZero();
  for (StepReport& r : reports) r.wrote_checkpoint = r.rank == 0;
  std::vector<StepCommit> commits;
  for (const StepReport& r : reports) {
    StatusOr<std::vector<StepCommit>> c = c_.Add(r);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    commits.insert(commits.end(), c->begin(), c->end());
  }
  ASSERT_EQ(commits.size(), 1u);
  const std::string step_dir = run_.path() + "/checkpoints/step-1";
  EXPECT_EQ(commits[0].checkpoint_dir, step_dir);
  EXPECT_EQ(commits[0].checkpoint_error, "");
  EXPECT_FALSE(fs::exists(tmp));
  ASSERT_TRUE(VerifyCheckpoint(step_dir).ok()) << VerifyCheckpoint(step_dir).ToString();

  ParamBuffer back;
  back.Add("w", {2, 3});
  back.Allocate();
  StatusOr<nlohmann::json> extra = LoadCheckpoint(step_dir, {{"llm", &back, nullptr}});
  ASSERT_TRUE(extra.ok()) << extra.status().ToString();
  EXPECT_EQ(back.params(), buffers[1]->params());
  EXPECT_EQ((*extra)["next_step"], 1);
  EXPECT_EQ((*extra)["job_yaml"], "name: j\n");
  EXPECT_EQ((*extra)["seed"], 7);
  EXPECT_EQ((*extra)["data_cursor"], (nlohmann::json{{"next_step", 1}, {"global_batch", 8}}));
  EXPECT_EQ((*extra)["layout"]["llm"], (nlohmann::json{{"dp", 2}, {"tp", 1}, {"pp", 1}}));
  std::ifstream mf(step_dir + "/manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(mf);
  EXPECT_EQ(manifest["format"], "braid-checkpoint-v1");
  EXPECT_EQ(manifest["files"].size(), 3u);
}

}  // namespace
}  // namespace braid::orchestrator
