#include "services/process_flags.h"

#include <cstdio>

#include "common/base/log.h"
#include "common/rpc/address_file.h"
#include "common/rpc/server.h"

namespace braid {

void AddProcessFlags(CLI::App& app, ProcessFlags* f) {
  app.add_option("--listen", f->listen, "HOST:PORT to serve on (port 0 = any free port)")
      ->envname("BRAID_LISTEN")
      ->capture_default_str();
  app.add_option("--address-file", f->address_file, "write the bound HOST:PORT here once serving");
  app.add_option("--metrics-listen", f->metrics_listen, "HOST:PORT for Prometheus metrics (empty = off)")
      ->envname("BRAID_METRICS_LISTEN")
      ->capture_default_str();
  app.add_option("--metrics-address-file", f->metrics_address_file,
                 "write the bound metrics HOST:PORT here once serving (braid up lists it in targets.json)");
  app.add_option("--log-level", f->log_level, "debug, info, warn or error")
      ->envname("BRAID_LOG_LEVEL")
      ->capture_default_str();
}

bool ApplyLogLevel(const ProcessFlags& f) {
  if (f.log_level == "debug") SetLogLevel(LogLevel::kDebug);
  else if (f.log_level == "info") SetLogLevel(LogLevel::kInfo);
  else if (f.log_level == "warn") SetLogLevel(LogLevel::kWarn);
  else if (f.log_level == "error") SetLogLevel(LogLevel::kError);
  else {
    std::fprintf(stderr, "--log-level: '%s' is not one of debug, info, warn, error\n", f.log_level.c_str());
    return false;
  }
  return true;
}

bool WriteMetricsAddress(const ProcessFlags& f, int bound_port) {
  if (f.metrics_address_file.empty() || bound_port <= 0) return true;
  Status s = rpc::WriteAddressFile(f.metrics_address_file, rpc::DialAddress(f.metrics_listen, bound_port));
  if (!s.ok()) LOG_ERROR("--metrics-address-file: %s", s.ToString().c_str());
  return s.ok();
}

}  // namespace braid
