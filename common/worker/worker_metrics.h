// A worker's Prometheus metrics (docs/METRICS.md, "Workers"): counters fed
// once per finished step from the module runner's StepResult.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <string>

#include "common/worker/module_runner.h"
#include "common/worker/rank_data.h"

namespace braid::worker {

class WorkerMetrics {
 public:
  // Registers the families in `registry` (which must outlive this).
  WorkerMetrics(prometheus::Registry& registry, Role role);

  // Adds one finished step of rank `rank` in job `job_id`: compute seconds by
  // phase, boundary bytes by direction, the boundary waits (receive-wait and
  // transfer-wait spans), the all-reduce span and the step count.
  void RecordStep(const std::string& job_id, int rank, const StepResult& r);

 private:
  Role role_;
  prometheus::Family<prometheus::Counter>& compute_;
  prometheus::Family<prometheus::Counter>& bytes_;
  prometheus::Family<prometheus::Counter>& wait_;
  prometheus::Family<prometheus::Counter>& allreduce_;
  prometheus::Family<prometheus::Counter>& steps_;
};

}  // namespace braid::worker
