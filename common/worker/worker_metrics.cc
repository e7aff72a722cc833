#include "common/worker/worker_metrics.h"

namespace braid::worker {

WorkerMetrics::WorkerMetrics(prometheus::Registry& registry, Role role)
    : role_(role),
      compute_(prometheus::BuildCounter()
                   .Name("braid_stage_compute_seconds_total")
                   .Help("Seconds this rank computed, by phase (forward, backward, forward_backward: the "
                         "generator's fused microbatch, optimizer)")
                   .Register(registry)),
      bytes_(prometheus::BuildCounter()
                 .Name("braid_boundary_bytes_total")
                 .Help("Bytes of boundary activations and gradients sent to or received from other modules")
                 .Register(registry)),
      wait_(prometheus::BuildCounter()
                .Name("braid_boundary_wait_seconds_total")
                .Help("Seconds this rank waited for boundary data (the peer still computing, then the transfer)")
                .Register(registry)),
      allreduce_(prometheus::BuildCounter()
                     .Name("braid_allreduce_seconds_total")
                     .Help("Seconds this rank spent in the data-parallel gradient all-reduce (the part not "
                           "overlapped with its backward)")
                     .Register(registry)),
      steps_(prometheus::BuildCounter()
                 .Name("braid_worker_steps_total")
                 .Help("Training steps this rank finished")
                 .Register(registry)) {}

void WorkerMetrics::RecordStep(const std::string& job_id, int rank, const StepResult& r) {
  const std::string module = RoleName(role_), rank_s = std::to_string(rank);
  for (int p = 0; p < kComputePhases; ++p) {
    // The generator has no separate forward/backward and the others no fused
    // phase: only phases a module has get a series.
    const bool fused = p == int(ComputePhase::kForwardBackward);
    const bool split = p == int(ComputePhase::kForward) || p == int(ComputePhase::kBackward);
    if ((fused && role_ != Role::kGenerator) || (split && role_ == Role::kGenerator)) continue;
    compute_.Add({{"job", job_id}, {"module", module}, {"rank", rank_s}, {"phase", ComputePhaseName(ComputePhase(p))}})
        .Increment(r.compute_seconds[p]);
  }
  bytes_.Add({{"job", job_id}, {"module", module}, {"rank", rank_s}, {"direction", "sent"}})
      .Increment(double(r.bytes_sent));
  bytes_.Add({{"job", job_id}, {"module", module}, {"rank", rank_s}, {"direction", "received"}})
      .Increment(double(r.bytes_received));
  double wait = 0, allreduce = 0;
  for (const SpanRecord& s : r.spans) {
    if (s.kind == SpanKind::kRecvWait || s.kind == SpanKind::kTransferWait) wait += s.seconds;
    if (s.kind == SpanKind::kAllReduce) allreduce += s.seconds;
  }
  const prometheus::Labels labels = {{"job", job_id}, {"module", module}, {"rank", rank_s}};
  wait_.Add(labels).Increment(wait);
  allreduce_.Add(labels).Increment(allreduce);
  steps_.Add(labels).Increment();
}

}  // namespace braid::worker
