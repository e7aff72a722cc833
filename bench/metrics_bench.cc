// The CPU cost of braid's metrics, measured directly (docs/PERFORMANCE.md,
// "Metrics overhead"): what a worker adds per step (WorkerMetrics::RecordStep
// over a step's spans), what the orchestrator adds per committed step
// (OrchestratorMetrics::OnCommit) and what one scrape of a worker's registry
// costs (collect + text serialisation). Compare with the demo step (~0.17 s
// on this VM) and one scrape per second.
#include <benchmark/benchmark.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "common/config/job_config.h"
#include "common/plan/cluster_spec.h"
#include "common/worker/worker_metrics.h"
#include "services/orchestrator/orchestrator_metrics.h"

namespace {

using braid::worker::SpanKind;

// A demo-sized LLM rank step: 4 microbatches, forward + backward each with
// waits and sends, then the all-reduce and the optimizer.
braid::worker::StepResult DemoStep() {
  braid::worker::StepResult r;
  for (int mb = 0; mb < 4; ++mb)
    for (SpanKind k : {SpanKind::kRecvWait, SpanKind::kTransferWait, SpanKind::kCompute, SpanKind::kSend,
                       SpanKind::kRecvWait, SpanKind::kCompute, SpanKind::kSend})
      r.spans.push_back({k, mb, 0.01 * mb, 0.001});
  r.spans.push_back({SpanKind::kAllReduce, -1, 0.1, 0.001});
  r.spans.push_back({SpanKind::kOptimizer, -1, 0.11, 0.001});
  r.compute_seconds[0] = 0.05, r.compute_seconds[1] = 0.1, r.compute_seconds[3] = 0.001;
  r.bytes_sent = r.bytes_received = 1 << 20;
  return r;
}

void BM_WorkerRecordStep(benchmark::State& state) {
  prometheus::Registry registry;
  braid::worker::WorkerMetrics m(registry, braid::worker::Role::kLlm);
  const braid::worker::StepResult r = DemoStep();
  for (auto _ : state) m.RecordStep("fashion-mllm-20261122-000000", 0, r);
}
BENCHMARK(BM_WorkerRecordStep);

void BM_OrchestratorOnCommit(benchmark::State& state) {
  prometheus::Registry registry;
  braid::plan::ClusterSpec cluster;
  cluster.peak_flops = 1.5e11;
  braid::orchestrator::OrchestratorMetrics m(registry, cluster);
  braid::orchestrator::Job job;
  job.id = "fashion-mllm-20261122-000000";
  braid::JobConfig cfg;  // the default model
  braid::orchestrator::StepCommit c;
  c.metrics.step_seconds = 0.17, c.metrics.tokens = 3000, c.metrics.samples = 32, c.metrics.images = 40;
  c.metrics.gen_targets = 8, c.metrics.imbalance = {1.0, 1.04, 1.0};
  for (auto _ : state) m.OnCommit(job, cfg, c);
}
BENCHMARK(BM_OrchestratorOnCommit);

void BM_ScrapeWorkerRegistry(benchmark::State& state) {
  prometheus::Registry registry;
  braid::worker::WorkerMetrics m(registry, braid::worker::Role::kLlm);
  m.RecordStep("fashion-mllm-20261122-000000", 0, DemoStep());
  prometheus::TextSerializer text;
  size_t bytes = 0;
  for (auto _ : state) bytes = text.Serialize(registry.Collect()).size();
  state.counters["bytes"] = double(bytes);
}
BENCHMARK(BM_ScrapeWorkerRegistry);

}  // namespace

BENCHMARK_MAIN();
