#include "services/process_flags.h"

#include <cstdio>

#include "common/base/log.h"
#include "common/metrics/rpc_metrics.h"
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
  app.add_option("--token-file", f->token_file,
                 "file holding the bearer token required of (and sent on) every call (else env BRAID_TOKEN)")
      ->envname("BRAID_TOKEN_FILE");
  app.add_option("--tls-cert", f->security.tls_cert, "PEM certificate: serve TLS (also the client certificate)")
      ->envname("BRAID_TLS_CERT");
  app.add_option("--tls-key", f->security.tls_key, "PEM private key of --tls-cert")->envname("BRAID_TLS_KEY");
  app.add_option("--tls-ca", f->security.tls_ca,
                 "PEM CA certificate: dial other braid services over TLS verified against it, and verify client "
                 "certificates")
      ->envname("BRAID_TLS_CA");
  app.add_flag("--insecure-listen", f->security.insecure_listen,
               "allow a non-loopback --listen without TLS (plaintext; the log says so)")
      ->envname("BRAID_INSECURE_LISTEN");
  app.parse_complete_callback([f] {
    if (Status s = rpc::LoadSecurity(f->token_file, &f->security); !s.ok()) throw CLI::ValidationError(s.message());
    rpc::SetProcessSecurity(f->security);
  });
}

rpc::ServerOptions ServerOptionsFor(const ProcessFlags& f, prometheus::Registry& registry, int max_receive_bytes) {
  rpc::ServerOptions o;
  o.security = f.security;
  o.on_auth_failure = MakeAuthFailureCounter(registry);
  o.max_receive_bytes = max_receive_bytes;
  return o;
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
