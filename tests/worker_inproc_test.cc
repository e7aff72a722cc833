// The distributed step, in one process: every rank of every module is a
// thread running the real ModuleRunner (1F1B schedule, boundary routing, DP
// all-reduce) over the in-process fabric. Each layout must reproduce the
// single-process trainer step by step (losses) and at the end (parameters).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <map>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/base/threads.h"
#include "common/checkpoint/checkpoint.h"
#include "common/parallel/shard.h"
#include "common/config/job_config.h"
#include "common/reorder/in_order_router.h"
#include "common/train/step_plan.h"
#include "common/train/trainer.h"
#include "common/train/training_data.h"
#include "common/worker/inproc_fabric.h"
#include "common/worker/module_runner.h"
#include "common/worker/shard_builder.h"
#include "tests/run_compare.h"
#include "tests/support/inproc_step.h"
#include "tests/temp_dir.h"
#include "tests/worker_device_run.h"

namespace braid::worker {
namespace {

constexpr int kSteps = 20;

// wide: a model whose heads and hidden sizes divide by 2 and 3 (for TP).
JobConfig TestJob(bool wide = false, int llm_layers = 2) {
  JobConfig c = device_run::TestJob(kSteps);
  if (wide) {
    c.model.llm.width = 48;
    c.model.llm.heads = 6;
    c.model.llm.mlp_hidden = 96;
    c.model.llm.layers = llm_layers;  // PP 2 needs 2
    c.model.encoder.width = 24;
    c.model.encoder.heads = 6;
  }
  EXPECT_TRUE(ValidateJobConfig(c).ok());
  return c;
}

using device_run::Layouts;
using device_run::LayoutName;
using device_run::Reference;

// The single-process trainer's losses and final parameters (computed once per model).
const Reference& SingleProcessReference(bool wide, int llm_layers) {
  static std::map<std::pair<bool, int>, Reference> refs;
  const std::pair<bool, int> key{wide, wide ? llm_layers : 0};
  if (!refs.count(key)) refs[key] = device_run::SingleProcess(TestJob(wide, llm_layers));
  return refs[key];
}

// A rank's parameters next to its share of the whole module's: each of its
// views (a TP slice, a pipeline stage's layers) cut out of the whole tensor
// of the same name (`whole` lays the values out).
std::vector<float> ShareOfWhole(const ParamBuffer& rank, const ParamBuffer& whole, const std::vector<float>& values) {
  EXPECT_EQ(whole.size(), int64_t(values.size()));
  std::vector<float> out(static_cast<size_t>(rank.size()));
  for (const ParamView& v : rank.views()) {
    const int i = whole.Find(v.name);
    EXPECT_GE(i, 0) << v.name;
    if (i < 0) continue;
    parallel::ExtractShard(values.data() + whole.view(i).offset, v.full_shape, v.shard, out.data() + v.offset);
  }
  return out;
}


// llm_layers, stage_layers: the wide model's LLM depth and an explicit
// (uneven) pipeline split.
void RunLayout(const Layouts& layouts, bool wide = false, int llm_layers = 2, std::vector<int> stage_layers = {}) {
  const Reference& ref = SingleProcessReference(wide, llm_layers);
  ASSERT_EQ(ref.losses.size(), size_t(kSteps));
  JobConfig cfg = TestJob(wide, llm_layers);
  cfg.parallel.encoder = {layouts[0].dp, layouts[0].tp, layouts[0].pp, {}};
  cfg.parallel.llm = {layouts[1].dp, layouts[1].tp, layouts[1].pp, stage_layers};
  cfg.parallel.generator = {layouts[2].dp, layouts[2].tp, layouts[2].pp, {}};
  ASSERT_TRUE(ValidateJobConfig(cfg).ok()) << ValidateJobConfig(cfg).ToString();
  auto data = train::TrainingData::Load(cfg);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  train::EpochSampler sampler(cfg.seed, (*data)->epoch_samples());
  InProcFabric fabric(layouts, /*timeout_seconds=*/30);
  std::vector<std::unique_ptr<ModuleRunner>> runners;
  for (int r = 0; r < kNumRoles; ++r)
    for (int k = 0; k < layouts[size_t(r)].world(); ++k)
      runners.push_back(std::make_unique<ModuleRunner>(
          Role(r), k, cfg, fabric.transport(Role(r), k), fabric.dp_group(Role(r), k),
          layouts[size_t(r)].tp > 1 ? fabric.tp_group(Role(r), k) : nullptr,
          layouts[size_t(r)].tp * layouts[size_t(r)].pp > 1 ? fabric.mp_group(Role(r), k) : nullptr));
  const reorder::Layout layout{layouts[0].dp, layouts[1].dp, layouts[2].dp};
  double worst = 0;
  for (int64_t step = 0; step < kSteps; ++step) {
    const StatusOr<double> got = RunInProcStep(runners, **data, sampler, cfg, layout, step);
    ASSERT_TRUE(got.ok()) << "step " << step << ": " << got.status().ToString();
    const double loss = *got;
    const double rel = std::abs(loss - ref.losses[size_t(step)]) / std::abs(ref.losses[size_t(step)]);
    worst = std::max(worst, rel);
    EXPECT_LE(rel, 1e-4) << "step " << step << ": distributed " << loss << " vs single-process "
                         << ref.losses[size_t(step)];
  }
  std::printf("layout %s: worst per-step loss rel diff %.3e\n", LayoutName(layouts).c_str(), worst);
  // Final parameters: every rank holds its share of the reference's (all of
  // it without TP and PP).
  for (auto& mr : runners) {
    const std::vector<float> want = ShareOfWhole(mr->params(), mr->WholeLayout(), ref.params.at(mr->module_name()));
    const double d = testing_util::L2RelDiff(mr->params().params(), want);
    EXPECT_LE(d, 1e-4) << mr->module_name() << " rank " << mr->rank() << " params rel diff " << d;
    if (mr->rank() == 0) std::printf("  %s params rel diff %.3e\n", mr->module_name(), d);
  }
}

void RunLayout(int enc_dp, int llm_dp, int gen_dp) {
  RunLayout({parallel::Layout{enc_dp, 1, 1}, parallel::Layout{llm_dp, 1, 1}, parallel::Layout{gen_dp, 1, 1}});
}

TEST(InProcRuntime, Layout111MatchesSingleProcess) { RunLayout(1, 1, 1); }
TEST(InProcRuntime, Layout321MatchesSingleProcess) { RunLayout(3, 2, 1); }
TEST(InProcRuntime, Layout212MatchesSingleProcess) { RunLayout(2, 1, 2); }
TEST(InProcRuntime, Layout132MatchesSingleProcess) { RunLayout(1, 3, 2); }

// Tensor parallelism (issue 8): TP ranks are threads too.
TEST(InProcRuntime, LlmTp2MatchesSingleProcess) { RunLayout({{{1, 1, 1}, {1, 2, 1}, {1, 1, 1}}}); }
TEST(InProcRuntime, LlmTp3MatchesSingleProcess) { RunLayout({{{1, 1, 1}, {1, 3, 1}, {1, 1, 1}}}, true); }
TEST(InProcRuntime, EncoderTp2FeedsLlmTp3MatchesSingleProcess) {
  RunLayout({{{1, 2, 1}, {1, 3, 1}, {1, 1, 1}}}, true);
}
TEST(InProcRuntime, TpWithDpOnEveryModuleMatchesSingleProcess) {
  RunLayout({{{2, 3, 1}, {2, 2, 1}, {2, 1, 1}}}, true);
}

// Pipeline parallelism (issue 8): LLM stages nested in the 1F1B across modules.
TEST(InProcRuntime, LlmPp2MatchesSingleProcess) { RunLayout({{{1, 1, 1}, {1, 1, 2}, {1, 1, 1}}}, true); }
TEST(InProcRuntime, LlmTp2Pp2WithDpMatchesSingleProcess) {
  RunLayout({{{2, 1, 1}, {2, 2, 2}, {1, 1, 1}}}, true);
}
TEST(InProcRuntime, LlmUnevenPp3MatchesSingleProcess) {  // 4 layers as 1 + 2 + 1
  RunLayout({{{1, 1, 1}, {1, 1, 3}, {1, 1, 1}}}, true, 4, {1, 2, 1});
}

TEST(InProcRuntime, WarmupForwardsFollow1F1B) {
  EXPECT_EQ(WarmupForwards(Role::kEncoder, 4), 2);
  EXPECT_EQ(WarmupForwards(Role::kLlm, 4), 1);
  EXPECT_EQ(WarmupForwards(Role::kGenerator, 4), 0);
  EXPECT_EQ(WarmupForwards(Role::kEncoder, 1), 1);
  // LLM in 3 stages: encoder, LLM 0, 1, 2, generator = 5 pipeline stages.
  EXPECT_EQ(WarmupForwards(Role::kEncoder, 8, 0, 3), 4);
  EXPECT_EQ(WarmupForwards(Role::kLlm, 8, 0, 3), 3);
  EXPECT_EQ(WarmupForwards(Role::kLlm, 8, 2, 3), 1);
  EXPECT_EQ(WarmupForwards(Role::kGenerator, 8, 0, 3), 0);
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
