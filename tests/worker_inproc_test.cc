// The distributed step, in one process: every rank of every module is a
// thread running the real ModuleRunner (1F1B schedule, boundary routing, DP
// all-reduce) over the in-process fabric. Each layout must reproduce the
// single-process trainer step by step (losses) and at the end (parameters).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/base/threads.h"
#include "common/checkpoint/checkpoint.h"
#include "common/config/job_config.h"
#include "common/reorder/in_order_router.h"
#include "common/train/step_plan.h"
#include "common/train/trainer.h"
#include "common/train/training_data.h"
#include "common/worker/inproc_fabric.h"
#include "common/worker/module_runner.h"
#include "common/worker/shard_builder.h"
#include "tests/run_compare.h"
#include "tests/temp_dir.h"

namespace braid::worker {
namespace {

constexpr int kSteps = 20;

JobConfig TestJob() {
  auto cfg = LoadJobConfig("tests/data/jobs/tiny.yaml");
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  JobConfig c = *cfg;
  c.train.steps = kSteps;
  c.train.global_batch = 12;
  c.train.microbatches = 3;
  c.train.warmup_steps = 2;
  c.checkpoint.every = kSteps;
  c.model.generator.noise_samples = 2;
  EXPECT_TRUE(ValidateJobConfig(c).ok());
  return c;
}

struct Reference {
  std::vector<double> losses;
  std::map<std::string, std::vector<float>> params;  // module -> flat params
};

// The single-process trainer's losses and final parameters (computed once).
const Reference& SingleProcessReference() {
  static Reference ref = [] {
    Reference r;
    JobConfig cfg = TestJob();
    testing_util::ScopedTempDir tmp("braid_inproc_ref_");
    train::TrainOptions opt;
    opt.run_dir = tmp.path() + "/run";
    opt.progress = false;
    auto s = train::TrainSingleProcess(cfg, opt);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    r.losses = testing_util::RunLosses(opt.run_dir);
    r.params = testing_util::CheckpointParams(cfg, opt.run_dir, kSteps);
    return r;
  }();
  return ref;
}

void RunLayout(int enc_dp, int llm_dp, int gen_dp) {
  const Reference& ref = SingleProcessReference();
  ASSERT_EQ(ref.losses.size(), size_t(kSteps));
  JobConfig cfg = TestJob();
  auto data = train::TrainingData::Load(cfg);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  train::EpochSampler sampler(cfg.seed, (*data)->epoch_samples());
  InProcFabric fabric(enc_dp, llm_dp, gen_dp, /*timeout_seconds=*/30);
  const int sizes[kNumRoles] = {enc_dp, llm_dp, gen_dp};
  std::vector<std::unique_ptr<ModuleRunner>> runners;
  for (int r = 0; r < kNumRoles; ++r)
    for (int k = 0; k < sizes[r]; ++k)
      runners.push_back(std::make_unique<ModuleRunner>(Role(r), k, cfg, fabric.transport(Role(r), k),
                                                       fabric.dp_group(Role(r), k)));
  const reorder::Layout layout{enc_dp, llm_dp, gen_dp};
  double worst = 0;
  for (int64_t step = 0; step < kSteps; ++step) {
    std::vector<Sample> samples;
    for (int64_t id : sampler.StepIds(step, cfg.train.global_batch)) {
      auto s = (*data)->Make(id);
      ASSERT_TRUE(s.ok());
      samples.push_back(std::move(*s));
    }
    reorder::StepPlan plan = reorder::PlanInOrder(step, MetasOf(samples), cfg.train.microbatches, layout);
    std::vector<StatusOr<StepResult>> results(runners.size(), Status::Internal("not run"));
    std::vector<std::thread> threads;
    for (size_t i = 0; i < runners.size(); ++i) {
      threads.emplace_back([&, i] {
        SetComputeThreads(1);
        ModuleRunner& mr = *runners[i];
        results[i] = mr.RunStep(step, BuildRankShards(samples, plan, mr.role(), mr.rank(), cfg.seed));
      });
    }
    for (auto& t : threads) t.join();
    double text = 0, gen = 0;
    for (size_t i = 0; i < runners.size(); ++i) {
      ASSERT_TRUE(results[i].ok()) << RoleName(runners[i]->role()) << " rank " << runners[i]->rank() << ": "
                                   << results[i].status().ToString();
      text += results[i]->text_loss_sum;
      gen += results[i]->gen_loss_sum;
    }
    const double loss = (plan.global_text_targets ? text / double(plan.global_text_targets) : 0.0) +
                        (plan.global_gen_targets ? gen / double(plan.global_gen_targets) : 0.0);
    const double rel = std::abs(loss - ref.losses[size_t(step)]) / std::abs(ref.losses[size_t(step)]);
    worst = std::max(worst, rel);
    EXPECT_LE(rel, 1e-4) << "step " << step << ": distributed " << loss << " vs single-process "
                         << ref.losses[size_t(step)];
  }
  std::printf("layout %d/%d/%d: worst per-step loss rel diff %.3e\n", enc_dp, llm_dp, gen_dp, worst);
  // Final parameters: every rank of a module holds the same values, equal to the reference.
  for (auto& mr : runners) {
    const double d = testing_util::L2RelDiff(mr->params().params(), ref.params.at(mr->module_name()));
    EXPECT_LE(d, 1e-4) << mr->module_name() << " rank " << mr->rank() << " params rel diff " << d;
    if (mr->rank() == 0) std::printf("  %s params rel diff %.3e\n", mr->module_name(), d);
  }
}

TEST(InProcRuntime, Layout111MatchesSingleProcess) { RunLayout(1, 1, 1); }
TEST(InProcRuntime, Layout321MatchesSingleProcess) { RunLayout(3, 2, 1); }
TEST(InProcRuntime, Layout212MatchesSingleProcess) { RunLayout(2, 1, 2); }
TEST(InProcRuntime, Layout132MatchesSingleProcess) { RunLayout(1, 3, 2); }

TEST(InProcRuntime, WarmupForwardsFollow1F1B) {
  EXPECT_EQ(WarmupForwards(Role::kEncoder, 4), 2);
  EXPECT_EQ(WarmupForwards(Role::kLlm, 4), 1);
  EXPECT_EQ(WarmupForwards(Role::kGenerator, 4), 0);
  EXPECT_EQ(WarmupForwards(Role::kEncoder, 1), 1);
}

TEST(InProcRuntime, MissingPeerTimesOutInsteadOfHanging) {
  JobConfig cfg = TestJob();
  InProcFabric fabric(1, 1, 1, /*timeout_seconds=*/0.5);
  ModuleRunner llm(Role::kLlm, 0, cfg, fabric.transport(Role::kLlm, 0), fabric.dp_group(Role::kLlm, 0));
  RankMicrobatch mb;
  RankSample s;
  s.sample_id = 5;
  s.tokens = {256, 258};
  for (int i = 0; i < 16; ++i) s.tokens.push_back(260);
  s.tokens.push_back(259);
  s.targets.assign(s.tokens.size(), -1);
  s.image_uids = {0};
  s.image_encoder_ranks = {0};
  mb.samples.push_back(s);
  auto r = llm.RunStep(0, {mb});  // no encoder thread: the embedding never comes
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("enc->llm step 0 mb 0 unit 0"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace braid::worker
