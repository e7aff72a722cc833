// Flags every braid process shares (docs/PROTOCOL.md, "Process command
// lines"): --listen, --address-file, --metrics-listen, --log-level.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace braid {

struct ProcessFlags {
  std::string listen;                        // HOST:PORT, port 0 = any free port
  std::string address_file;                  // written with the bound HOST:PORT once serving
  std::string metrics_listen = "127.0.0.1:0";  // Prometheus exposition; empty = off
  std::string metrics_address_file;          // written with the metrics HOST:PORT once serving
  std::string log_level = "info";
};

void AddProcessFlags(CLI::App& app, ProcessFlags* flags);
// Applies --log-level; false (after printing why) when it is not a level.
bool ApplyLogLevel(const ProcessFlags& flags);
// Writes the metrics server's HOST:PORT (port = `bound_port`) to
// --metrics-address-file when both are set; false (after logging why) when
// the file cannot be written.
bool WriteMetricsAddress(const ProcessFlags& flags, int bound_port);

}  // namespace braid
