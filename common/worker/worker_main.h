// The main loop shared by braid-encoder-worker, braid-llm-worker and
// braid-generator-worker (docs/PROTOCOL.md): register with the orchestrator,
// heartbeat, wait for an assignment, build the communicators, stream the
// data, run the module's steps, report each step, and go idle again.
#pragma once

#include "common/worker/rank_data.h"

namespace braid::worker {

// Parses the command line of a worker of `role` and runs until SIGTERM or a
// SHUTDOWN command. Returns the process exit code (0 clean, 1 failure, 2 bad
// arguments or a refused registration).
int RunWorkerMain(Role role, int argc, char** argv);

}  // namespace braid::worker
