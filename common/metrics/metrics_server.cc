#include "common/metrics/metrics_server.h"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include <vector>

#include "common/metrics/metrics_http.h"
#include "common/metrics/process_metrics.h"

namespace braid {

MetricsServer::~MetricsServer() = default;

void MetricsServer::StopServing() { http_.reset(); }

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
  s->process_ = std::make_shared<ProcessMetrics>();
  if (listen.empty()) return s;
  // The page renders on the serving thread, which shares the registry and
  // the process collector (both collect thread-safely).
  auto render = [registry = s->registry_, process = s->process_] {
    std::vector<prometheus::MetricFamily> families = registry->Collect();
    for (prometheus::MetricFamily& f : process->Collect()) families.push_back(std::move(f));
    return prometheus::TextSerializer().Serialize(families);
  };
  StatusOr<std::unique_ptr<MetricsHttpServer>> http = MetricsHttpServer::Start(listen, std::move(render));
  if (!http.ok()) return http.status();
  s->http_ = std::move(*http);
  s->bound_port_ = s->http_->port();
  return s;
}

}  // namespace braid
