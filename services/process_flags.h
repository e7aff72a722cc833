// Flags every braid process shares (docs/PROTOCOL.md, "Process command
// lines"): --listen, --address-file, --metrics-listen, --log-level, and the
// security flags (docs/RELIABILITY.md, "Security"): --token-file, --tls-cert,
// --tls-key, --tls-ca, --insecure-listen. The workers' device flags
// (docs/GPU.md step 7): --device, --device-index.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/base/status.h"
#include "common/rpc/security.h"
#include "common/rpc/server.h"

namespace prometheus {
class Registry;
}

namespace braid {

struct ProcessFlags {
  std::string listen;                        // HOST:PORT, port 0 = any free port
  std::string address_file;                  // written with the bound HOST:PORT once serving
  std::string metrics_listen = "127.0.0.1:0";  // Prometheus exposition; empty = off
  std::string metrics_address_file;          // written with the metrics HOST:PORT once serving
  std::string log_level = "info";
  std::string token_file;  // --token-file (env BRAID_TOKEN_FILE); else env BRAID_TOKEN
  // --tls-cert/--tls-key/--tls-ca/--insecure-listen, and once parsed the
  // token and the PEM files' contents (rpc::LoadSecurity).
  rpc::RpcSecurity security;
};

// Adds the flags to `app`. Once `app` has parsed, the token and the TLS files
// are loaded into flags->security (a problem is a CLI::ValidationError: the
// process exits with its message, code 2 in every braid binary) and
// flags->security becomes the process's default client security
// (rpc::SetProcessSecurity).
void AddProcessFlags(CLI::App& app, ProcessFlags* flags);
// rpc::StartServer's options for this process: its security, the auth
// failures counted in `registry` (braid_auth_failures_total, docs/METRICS.md)
// and the receive limit `max_receive_bytes`.
rpc::ServerOptions ServerOptionsFor(const ProcessFlags& flags, prometheus::Registry& registry, int max_receive_bytes);
// Applies --log-level; false (after printing why) when it is not a level.
bool ApplyLogLevel(const ProcessFlags& flags);
// Writes the metrics server's HOST:PORT (port = `bound_port`) to
// --metrics-address-file when both are set; false (after logging why) when
// the file cannot be written.
bool WriteMetricsAddress(const ProcessFlags& flags, int bound_port);

// What a worker computes on. Registered as its capabilities (device,
// device_index); the orchestrator gives it only jobs of the same `device`.
struct DeviceFlags {
  std::string device = "cpu";  // cpu | cuda
  int device_index = 0;        // the CUDA device; only with --device cuda
};
// Adds --device (env BRAID_DEVICE) and --device-index (env
// BRAID_DEVICE_INDEX) to `app`; CLI11 refuses a device other than cpu and
// cuda, and a negative index.
void AddDeviceFlags(CLI::App& app, DeviceFlags* flags);
// OK for cpu; for cuda, OK when the device exists, else FAILED_PRECONDITION
// "cuda device 3 requested, 2 present" (gpu::CheckDevice, run by the
// braid-device-check binary beside this one: a probe that fails cannot
// disturb the worker's own CUDA state). A worker checks this before it
// registers.
Status CheckDeviceFlags(const DeviceFlags& flags);

}  // namespace braid
