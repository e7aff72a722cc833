// braid-reorderer: the data service. Loads each job's dataset index,
// preprocesses on CPU and streams every worker its share of each microbatch,
// ahead of compute (docs/PROTOCOL.md, DataService).
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/base/blas_core.h"
#include "common/base/log.h"
#include "common/base/threads.h"
#include "common/metrics/metrics_server.h"
#include "common/rpc/address_file.h"
#include "common/rpc/server.h"
#include "common/rpc/shutdown_signal.h"
#include "services/data_reorderer/data_service.h"
#include "services/process_flags.h"

int main(int argc, char** argv) {
  braid::EnsureOpenBlasCore(argv);
  CLI::App app{"braid-reorderer: streams every worker its share of each microbatch (DataService)"};
  braid::ProcessFlags flags;
  flags.listen = "127.0.0.1:7771";
  braid::AddProcessFlags(app, &flags);
  int threads = 1, prefetch = 4;
  app.add_option("--threads", threads, "preprocessing threads")->check(CLI::PositiveNumber);
  app.add_option("--prefetch", prefetch, "microbatches planned ahead per worker stream")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  if (!braid::ApplyLogLevel(flags)) return 2;
  braid::SetComputeThreads(threads);

  braid::rpc::ShutdownSignal shutdown;
  if (auto s = shutdown.Install(); !s.ok()) {
    std::fprintf(stderr, "braid-reorderer: %s\n", s.ToString().c_str());
    return 1;
  }
  auto metrics = braid::MetricsServer::Start(flags.metrics_listen, "reorderer");
  if (!metrics.ok()) {
    std::fprintf(stderr, "braid-reorderer: --metrics-listen: %s\n", metrics.status().message().c_str());
    return 2;
  }
  braid::reorderer::ReordererCore core;
  braid::reorderer::DataServiceImpl service(&core, prefetch);
  int port = 0;
  auto server = braid::rpc::StartServer(flags.listen, {&service}, &port);
  if (!server.ok()) {
    std::fprintf(stderr, "braid-reorderer: --listen %s: %s\n", flags.listen.c_str(), server.status().message().c_str());
    return 2;
  }
  const std::string address = braid::rpc::DialAddress(flags.listen, port);
  LOG_INFO("braid-reorderer serving on %s (metrics port %d)", address.c_str(), (*metrics)->bound_port());
  if (!flags.address_file.empty()) {
    if (auto s = braid::rpc::WriteAddressFile(flags.address_file, address); !s.ok()) {
      std::fprintf(stderr, "braid-reorderer: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  shutdown.Wait();
  LOG_INFO("braid-reorderer: signal %d, shutting down", shutdown.signal_number());
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  return 0;
}
