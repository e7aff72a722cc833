// Starts and stops local pools for `braid up` / `braid down` / `braid run`:
// one orchestrator, one reorderer and the worker processes of a pools file,
// in the background, with their PIDs and addresses in <state-dir>/state.json.
#pragma once

#include <string>
#include <vector>

#include "cli/pools_config.h"
#include "common/base/status.h"

namespace braid::cli {

struct LaunchedProcess {
  std::string name;     // "orchestrator", "reorderer", "llm-0", ...
  std::string binary;   // absolute path
  int pid = 0;
  std::string address;  // bound HOST:PORT (from its address file)
  std::string metrics;  // its Prometheus metrics HOST:PORT ("" = not known)
  std::string log;      // its stdout + stderr
};

struct LocalCluster {
  std::string state_dir;
  std::string orchestrator;  // HOST:PORT
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
// orchestrator and reorderer their gRPC), writes state.json and targets.json. On failure stops what it started. Refuses when state.json exists
// and its processes are alive (AlreadyExists).
StatusOr<LocalCluster> StartLocalPools(const PoolsConfig& pools, const std::string& state_dir);
// SIGTERM to exactly the recorded PIDs (if they are still those binaries),
// SIGKILL after `grace_seconds`, then removes state.json.
Status StopLocalPools(const std::string& state_dir, double grace_seconds = 10);
StatusOr<LocalCluster> ReadClusterState(const std::string& state_dir);

}  // namespace braid::cli
