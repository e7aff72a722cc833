// OrchestratorMetrics: what one committed step and the tables put in the
// registry (docs/METRICS.md), MFU against its definition.
#include "services/orchestrator/orchestrator_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <string>

namespace braid::orchestrator {
namespace {

std::string Text(prometheus::Registry& r) { return prometheus::TextSerializer().Serialize(r.Collect()); }

TEST(OrchestratorMetricsTest, OneCommittedStep) {
  prometheus::Registry registry;
  plan::ClusterSpec cluster;
  cluster.peak_flops = 1e11;
  OrchestratorMetrics m(registry, cluster);
  Job job;
  job.id = "j1";
  job.layout.llm.dp = 2;  // encoder 1, llm 2, generator 1: 4 devices
  JobConfig cfg;
  StepCommit c;
  c.metrics.loss = 1.5, c.metrics.text_loss = 1.0, c.metrics.gen_loss = 0.5;
  c.metrics.tokens = 300, c.metrics.samples = 4, c.metrics.images = 5, c.metrics.gen_targets = 2;
  c.metrics.step_seconds = 0.5, c.metrics.bubble_ratio = 0.25, c.metrics.imbalance = {1.0, 1.2, 1.1};
  m.OnCommit(job, cfg, c);
  m.OnCommit(job, cfg, c);
  const std::string t = Text(registry);
  EXPECT_NE(t.find(R"(braid_train_steps_total{job="j1"} 2)"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(braid_tokens_total{job="j1"} 600)"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(braid_train_loss{job="j1"} 1.5)"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(braid_step_seconds_count{job="j1"} 2)"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(braid_pipeline_bubble_ratio{job="j1"} 0.25)"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(braid_dp_imbalance_ratio{job="j1",module="llm"} 1.2)"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(braid_workers_lost_total{role="llm"} 0)"), std::string::npos) << t;

  const double flops = StepModelFlops(cfg.model, 5, 300, 4, 2);
  EXPECT_GT(flops, 0);
  bool found = false;
  for (const auto& f : registry.Collect()) {
    if (f.name != "braid_mfu_ratio") continue;
    found = true;
    EXPECT_NEAR(f.metric.at(0).gauge.value, flops / (0.5 * 1e11 * 4), 1e-12);
  }
  EXPECT_TRUE(found) << t;
}

TEST(OrchestratorMetricsTest, StepFlopsGrowWithEachModulesWork) {
  const ModelConfig model;
  const double base = StepModelFlops(model, 4, 200, 4, 2);
  EXPECT_GT(StepModelFlops(model, 8, 200, 4, 2), base);  // encoder images
  EXPECT_GT(StepModelFlops(model, 4, 400, 4, 2), base);  // LLM tokens
  EXPECT_GT(StepModelFlops(model, 4, 200, 4, 3), base);  // generator targets
  // The LLM's attention is quadratic in a sample's length: the same tokens in
  // fewer, longer samples cost more.
  EXPECT_GT(StepModelFlops(model, 0, 400, 2, 0), StepModelFlops(model, 0, 400, 8, 0));
  EXPECT_EQ(StepModelFlops(model, 0, 0, 0, 0), 0.0);
}

}  // namespace
}  // namespace braid::orchestrator
