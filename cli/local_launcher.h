// Starts and stops local pools for `braid up` / `braid down` / `braid run`:
// one orchestrator, one reorderer and the worker processes of a pools file,
// in the background, with their PIDs and addresses in <state-dir>/state.json.
#pragma once

#include <string>
#include <vector>

#include "cli/pools_config.h"
#include "common/base/status.h"
#include "common/rpc/security.h"

namespace braid::cli {

struct LaunchedProcess {
  std::string name;     // "orchestrator", "reorderer", "llm-0", ...
  std::string binary;   // absolute path
  int pid = 0;
  std::string address;  // bound HOST:PORT (from its address file)
  std::string metrics;  // its Prometheus metrics HOST:PORT ("" = not known)
  std::string log;      // its stdout + stderr
  std::vector<std::string> args;  // its command line after the binary
  int restarts = 0;     // times the supervisor restarted it
};

struct LocalCluster {
  std::string state_dir;
  std::string orchestrator;  // HOST:PORT
  int supervisor_pid = 0;    // `braid up`'s supervisor (0 = none: `braid run`)
  std::string certs_dir;     // absolute; "" = no TLS (LaunchOptions::certs_dir)
  std::string token_file;    // absolute; "" = none given (LaunchOptions::token_file)
  std::vector<LaunchedProcess> processes;
};

// Directory of the running `braid` binary (the service binaries sit beside it).
std::string SelfBinDir();

// The Prometheus file_sd targets file `braid up` writes beside state.json.
std::string TargetsPath(const std::string& state_dir);  // <state_dir>/targets.json
// Its contents: one target group per process with a metrics address, labelled
// role (orchestrator, reorderer, encoder, llm, generator) and instance_name.
std::string TargetsJson(const LocalCluster& c);

// Starts everything, waits until every process serves its metrics (and the
// orchestrator and reorderer their gRPC), writes state.json and
// targets.json. On failure stops what it started. Refuses when state.json
// exists and its processes are alive (AlreadyExists).
// options.supervise: the processes are started by a supervisor process of their
// own (supervisor.h), which restarts any that dies; `braid up` does this.
// Without it they are children of the caller (`braid run`).
// runs_root: the orchestrator's --runs-root, where job run dirs may go
// ("" = the working directory).
// certs_dir: a `braid certs` directory: every process serves and dials TLS
// with its service's certificate (worker.* for the workers) and ca.pem, and
// the CLI, given only --state-dir, dials with client.* (ClusterSecurity).
// token_file: passed to every process as --token-file (and used by the CLI
// the same way); without it the processes inherit env BRAID_TOKEN[_FILE].
struct LaunchOptions {
  bool supervise = false;
  std::string runs_root;
  std::string certs_dir;
  std::string token_file;
};
StatusOr<LocalCluster> StartLocalPools(const PoolsConfig& pools, const std::string& state_dir,
                                       const LaunchOptions& options = {});
// Before anything starts: every worker of a `device: cuda` pool has its
// device on this host, else FailedPrecondition naming the first worker that
// has not: "llm-1: cuda device 1 requested, none present (no CUDA device:
// ...)". Each worker checks again itself before it registers.
Status CheckPoolDevices(const PoolsConfig& pools);
// Stops the supervisor first when there is one (it stops its processes in
// order), then SIGTERM to exactly the recorded PIDs still alive (if they are
// still those binaries), SIGKILL after `grace_seconds`; removes state.json.
Status StopLocalPools(const std::string& state_dir, double grace_seconds = 10);
StatusOr<LocalCluster> ReadClusterState(const std::string& state_dir);

// The files a `braid certs` directory must hold for LaunchOptions::certs_dir;
// InvalidArgument naming the first one missing.
Status CheckCertsDir(const std::string& dir);
// Client security for talking to cluster `c`: `given` (the CLI's own flags
// and environment) with what it leaves unset taken from the cluster (its
// CA and client certificate, its token file).
StatusOr<rpc::RpcSecurity> ClusterClientSecurity(const LocalCluster& c, const rpc::RpcSecurity& given);

// For the supervisor: starts `binary args...` in its own session with
// stdout and stderr appended to `log`; returns its PID.
StatusOr<int> SpawnProcess(const std::string& binary, const std::vector<std::string>& args, const std::string& log);
// Writes state.json and targets.json (each atomically).
Status WriteClusterFiles(const LocalCluster& c);
// SIGTERM to the live processes (last first), SIGKILL after grace_seconds.
void StopClusterProcesses(const LocalCluster& c, double grace_seconds);

}  // namespace braid::cli
