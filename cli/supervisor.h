// The `braid up` supervisor (docs/RELIABILITY.md, "The supervisor"): a
// process of its own that owns every pool process, restarts one that exits
// without being asked to (same command line, after a backoff), keeps
// state.json and targets.json current, and stops them all in order on
// SIGTERM (`braid down`).
#pragma once

#include <string>
#include <vector>

#include "cli/local_launcher.h"

namespace braid::cli {

// Restart backoff: 0.5 s after the first exit, doubling while the process
// keeps dying, capped at 10 s; back to 0.5 s once it had stayed up a minute.
double NextRestartDelay(double previous_delay, double uptime_seconds);

// The command line a restarted process gets: `args` with a port-0 `--listen`
// replaced by the address the first run bound (so workers and the
// orchestrator find a restarted orchestrator or reorderer where it was).
std::vector<std::string> RestartArgs(const std::vector<std::string>& args, const std::string& bound_address);

// Runs in the supervisor process once every process of `cluster` has
// started (they are its children). Returns (the exit code) after SIGTERM or
// SIGINT, when it has stopped them all (workers first) and removed
// state.json and targets.json.
int SuperviseLocalPools(LocalCluster cluster);

}  // namespace braid::cli
