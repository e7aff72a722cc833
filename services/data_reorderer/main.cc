// braid-reorderer: the data service. Loads each job's dataset index,
// preprocesses on CPU and streams every worker its share of each microbatch,
// ahead of compute (docs/PROTOCOL.md, DataService).
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/base/blas_core.h"
#include "common/base/log.h"
#include "common/base/threads.h"
#include "common/metrics/metrics_server.h"
#include "common/metrics/rpc_metrics.h"
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
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
  if (!braid::WriteMetricsAddress(flags, (*metrics)->bound_port())) return 1;
  braid::reorderer::ReordererCore core;
  {  // docs/METRICS.md, "Reorderer"
    auto& batches = prometheus::BuildCounter()
                        .Name("braid_reorder_batches_total")
                        .Help("Global batches prepared and planned")
                        .Register((*metrics)->registry());
    auto& seconds = prometheus::BuildHistogram()
                        .Name("braid_reorder_plan_seconds")
                        .Help("Seconds to prepare and plan one global batch")
                        .Register((*metrics)->registry());
    const prometheus::Histogram::BucketBoundaries buckets = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                                              0.1,   0.2,   0.5,   1,    2,    5};
    core.SetPlanObserver([&batches, &seconds, buckets](const std::string& job_id, double s) {
      batches.Add({{"job", job_id}}).Increment();
      seconds.Add({{"job", job_id}}, buckets).Observe(s);  // the buckets count only on the first Add
    });
  }
  braid::reorderer::DataServiceImpl service(&core, prefetch);
  int port = 0;
  braid::rpc::InterceptorFactories interceptors;
  interceptors.push_back(braid::MakeRpcMetrics((*metrics)->registry()));
  // Receives OpenJob (it carries the job spec), sends WorkerMicrobatches.
  braid::rpc::ServerOptions server_options =
      braid::ServerOptionsFor(flags, (*metrics)->registry(), braid::rpc::kJobApiMaxMessageBytes);
  server_options.max_send_bytes = braid::rpc::kMicrobatchMaxMessageBytes;  // one WorkerMicrobatch
  auto server = braid::rpc::StartServer(flags.listen, {&service}, &port, std::move(interceptors), server_options);
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
