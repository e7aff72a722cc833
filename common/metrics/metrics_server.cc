#include "common/metrics/metrics_server.h"

#include <prometheus/exposer.h>
#include <prometheus/gauge.h>

#include <exception>

#include "common/metrics/process_metrics.h"

namespace braid {

MetricsServer::~MetricsServer() = default;

void MetricsServer::StopServing() { exposer_.reset(); }

StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen, const std::string& role) {
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->registry_ = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge()
      .Name("braid_up")
      .Help("1 while the process is serving")
      .Register(*s->registry_)
      .Add({{"role", role.empty() ? "unknown" : role}})
      .Set(1);
  prometheus::BuildGauge()
      .Name("braid_build_info")
      .Help("1; the labels name the build")
      .Register(*s->registry_)
      .Add({{"role", role.empty() ? "unknown" : role}, {"version", BRAID_VERSION}})
      .Set(1);
  if (listen.empty()) return s;
  try {
    // One civetweb thread: a scrape every few seconds needs no more.
    s->exposer_ = std::make_unique<prometheus::Exposer>(listen, 1);
  } catch (const std::exception& e) {
    return Status::Unavailable("metrics: cannot listen on " + listen + ": " + e.what());
  }
  const std::vector<int> ports = s->exposer_->GetListeningPorts();
  if (ports.empty()) return Status::Unavailable("metrics: no listening port for " + listen);
  s->bound_port_ = ports.front();
  s->exposer_->RegisterCollectable(s->registry_);
  s->process_ = std::make_shared<ProcessMetrics>();
  s->exposer_->RegisterCollectable(s->process_);
  return s;
}

}  // namespace braid
