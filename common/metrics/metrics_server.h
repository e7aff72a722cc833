// One Prometheus registry per process, served over HTTP (text exposition at
// /metrics) on a thread of its own (MetricsHttpServer, metrics_http.h: not
// prometheus-cpp's civetweb Exposer, whose 100 KiB thread stacks the static
// TLS of OpenBLAS + the CUDA libraries overflows), with the standard
// process_* metrics. Every process exports braid_up{role="<role>"} = 1 and
// braid_build_info; the services add theirs to registry() (docs/METRICS.md).
//
// Threads: Start() and the destructor on one thread; registry() and the
// metric families it makes are thread-safe (prometheus-cpp locks inside).
#pragma once

#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "common/base/status.h"

namespace braid {

class MetricsHttpServer;
class ProcessMetrics;

class MetricsServer {
 public:
  // listen "HOST:PORT" (port 0 = any free port) or "" (off: the registry
  // still exists, nothing is served, bound_port() is 0). `role` labels
  // braid_up. Unavailable when the address cannot be bound, InvalidArgument
  // when it is not one.
  static StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen, const std::string& role = "");
  ~MetricsServer();
  // Stops serving HTTP (at once; a scrape in progress is dropped) and keeps
  // the registry: other threads may go on recording until the destructor.
  // Any thread, but not together with serving() or bound_port().
  void StopServing();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  prometheus::Registry& registry() { return *registry_; }
  bool serving() const { return http_ != nullptr; }
  int bound_port() const { return bound_port_; }

 private:
  MetricsServer() = default;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<MetricsHttpServer> http_;
  std::shared_ptr<ProcessMetrics> process_;
  int bound_port_ = 0;
};

}  // namespace braid
