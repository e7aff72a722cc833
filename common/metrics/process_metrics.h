// The standard process metrics (process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_start_time_seconds), read from /proc/self at
// each scrape. prometheus-cpp has no such collector; Linux only (elsewhere a
// scrape returns none of them).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

namespace braid {

class ProcessMetrics final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace braid
