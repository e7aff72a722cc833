// braid-orchestrator: the control plane (docs/PROTOCOL.md). Serves
// JobService, WorkerRegistry and Rendezvous; a background thread declares
// dead workers and runs the scheduler every 0.5 s; SIGTERM/SIGINT shut the
// server down (1 s grace for in-flight calls; long-polls are released at once) and exit 0.
#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <ctime>
#include <thread>

#include "common/base/blas_core.h"
#include "common/base/log.h"
#include "common/metrics/metrics_server.h"
#include "common/metrics/rpc_metrics.h"
#include "services/orchestrator/orchestrator_metrics.h"
#include "common/rpc/address_file.h"
#include "common/rpc/server.h"
#include "common/rpc/shutdown_signal.h"
#include "services/orchestrator/orchestrator.h"
#include "services/orchestrator/services.h"
#include "services/orchestrator/auto_layout.h"
#include "services/process_flags.h"

namespace {

constexpr int kExitOk = 0, kExitRuntime = 1, kExitBadInput = 2;

struct Flags {
  braid::ProcessFlags process;  // --listen, --address-file, --metrics-listen, --log-level
  std::string state_dir = ".braid/orchestrator";
  std::string reorderer;
  std::string reorderer_address_file;
  double heartbeat_timeout = 5.0;
  std::string runs_root;
  std::string cluster;  // cluster spec for `parallel: auto`; "" = this host
};

int Run(const Flags& f) {
  using namespace braid;
  using namespace braid::orchestrator;
  if (!ApplyLogLevel(f.process)) return kExitBadInput;

  rpc::ShutdownSignal signal;
  if (Status st = signal.Install(); !st.ok()) {
    LOG_ERROR("%s", st.ToString().c_str());
    return kExitRuntime;
  }
  std::error_code ec;
  std::filesystem::create_directories(f.state_dir, ec);
  if (ec) {
    LOG_ERROR("cannot create --state-dir %s: %s", f.state_dir.c_str(), ec.message().c_str());
    return kExitRuntime;
  }
  auto metrics = MetricsServer::Start(f.process.metrics_listen, "orchestrator");
  if (!metrics.ok()) {
    LOG_ERROR("%s", metrics.status().ToString().c_str());
    return kExitRuntime;
  }
  if (!WriteMetricsAddress(f.process, (*metrics)->bound_port())) return kExitRuntime;

  std::unique_ptr<DataPlanner> planner = MakeDataClient(f.reorderer, f.reorderer_address_file, 10.0, f.process.security);
  OrchestratorOptions opt;
  opt.runs_root = f.runs_root;
  opt.heartbeat_timeout_seconds = f.heartbeat_timeout;
  plan::ClusterSpec cluster = LocalHostCluster();
  if (!f.cluster.empty()) {
    StatusOr<plan::ClusterSpec> c = plan::LoadClusterSpec(f.cluster);
    if (!c.ok()) {
      LOG_ERROR("--cluster: %s", c.status().ToString().c_str());
      return kExitBadInput;
    }
    cluster = *c;
  }
  opt.auto_layout = [cluster](const JobConfig& cfg, const std::array<int, 3>& workers) {
    return PlanAutoLayout(cfg, workers, cluster);
  };
  OrchestratorMetrics orch_metrics((*metrics)->registry(), cluster);
  orch_metrics.Observe(&opt);
  Orchestrator orch(opt, planner.get());
  {
    // Ids of this run's workers: a worker of a previous run (before a
    // restart) must get NOT_FOUND and register again, never someone else's id.
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "w-%llx-", (unsigned long long)std::time(nullptr));
    orch.workers().set_id_prefix(prefix);
  }
  // The job table lives in <state-dir>/orchestrator.db: a restarted
  // orchestrator resumes its running jobs (docs/RELIABILITY.md).
  const std::string db_path = (std::filesystem::path(f.state_dir) / "orchestrator.db").string();
  StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(db_path);
  if (!store.ok()) {
    LOG_ERROR("%s", store.status().ToString().c_str());
    return kExitRuntime;
  }
  if (Status st = orch.RestoreJobs(store->get()); !st.ok()) {
    LOG_ERROR("cannot restore the jobs of %s: %s (move the file away to start empty)", db_path.c_str(),
              st.ToString().c_str());
    return kExitRuntime;
  }
  orch_metrics.UpdateTables(orch);
  std::unique_ptr<grpc::Service> job_service = MakeJobService(&orch);
  std::unique_ptr<grpc::Service> registry_service = MakeWorkerRegistryService(&orch);
  std::unique_ptr<grpc::Service> rendezvous_service = MakeRendezvousService(&orch);
  int port = 0;
  rpc::InterceptorFactories interceptors;
  interceptors.push_back(MakeRpcMetrics((*metrics)->registry()));
  // One port for the job API, worker reports and rendezvous: 4 MiB.
  auto server = rpc::StartServer(f.process.listen, {job_service.get(), registry_service.get(), rendezvous_service.get()},
                                 &port, std::move(interceptors),
                                 ServerOptionsFor(f.process, (*metrics)->registry(), rpc::kJobApiMaxMessageBytes));
  if (!server.ok()) {
    LOG_ERROR("%s", server.status().ToString().c_str());
    return server.status().code() == StatusCode::kInvalidArgument ? kExitBadInput : kExitRuntime;
  }
  const std::string address = rpc::DialAddress(f.process.listen, port);
  if (!f.process.address_file.empty()) {
    if (Status st = rpc::WriteAddressFile(f.process.address_file, address); !st.ok()) {
      LOG_ERROR("%s", st.ToString().c_str());
      (*server)->Shutdown();
      return kExitRuntime;
    }
  }
  LOG_INFO("braid-orchestrator serving on %s%s%s", address.c_str(),
           (*metrics)->serving() ? ", metrics on port " : "",
           (*metrics)->serving() ? std::to_string((*metrics)->bound_port()).c_str() : "");

  std::thread ticker([&] {
    while (!signal.WaitFor(0.5)) {
      orch.Tick();
      orch_metrics.UpdateTables(orch);
    }
  });
  signal.Wait();
  LOG_INFO("braid-orchestrator: shutting down (%s)",
           signal.signal_number() == SIGINT ? "SIGINT" : signal.signal_number() == SIGTERM ? "SIGTERM" : "requested");
  orch.Shutdown();  // long-polls and watches return now
  // Stopping the metrics server is quick (common/metrics/metrics_http.h); it
  // still overlaps with the gRPC drain.
  // The registry itself lives until Run returns: the calls drained below and
  // the ticker still count into it (destroying it here was a use-after-free).
  std::thread stop_metrics([&] { (*metrics)->StopServing(); });
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(1000));
  ticker.join();
  stop_metrics.join();
  if (!f.process.address_file.empty()) std::filesystem::remove(f.process.address_file, ec);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  braid::EnsureOpenBlasCore(argv);
  CLI::App app{"braid-orchestrator: job API, worker registry, rendezvous store and step commit (docs/PROTOCOL.md)."};
  Flags f;
  f.process.listen = "127.0.0.1:50051";
  braid::AddProcessFlags(app, &f.process);
  app.add_option("--state-dir", f.state_dir, "orchestrator state directory")
      ->envname("BRAID_STATE_DIR")
      ->capture_default_str();
  auto* reorderer = app.add_option("--reorderer", f.reorderer, "HOST:PORT of braid-reorderer's DataService")
                        ->envname("BRAID_REORDERER");
  app.add_option("--reorderer-address-file", f.reorderer_address_file, "read the reorderer's HOST:PORT from this file")
      ->excludes(reorderer);
  app.add_option("--heartbeat-timeout", f.heartbeat_timeout, "seconds without heartbeats before a worker is dead")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--runs-root", f.runs_root,
                 "run directories of jobs with a relative checkpoint.dir go under it (default: the working directory)")
      ->envname("BRAID_RUNS_ROOT");
  app.add_option("--cluster", f.cluster,
                 "cluster spec (YAML, deploy/clusters/) the pools run on, for `parallel: auto` jobs (default: this "
                 "host's cores, shared by every worker)")
      ->envname("BRAID_CLUSTER");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  }
  return Run(f);
}
