// The CLI's side of JobService: finding the orchestrator, calling it, and
// printing jobs (human lines or JSON, docs/CLI.md).
#pragma once

#include <memory>
#include <string>

#include "braid/v1/job.grpc.pb.h"
#include "cli/local_launcher.h"
#include "common/base/status.h"

namespace braid::cli {

inline constexpr char kDefaultStateDir[] = ".braid";

// --orchestrator, else $BRAID_ORCHESTRATOR, else <state_dir>/state.json
// (then with UseClusterSecurity of that cluster).
StatusOr<std::string> ResolveOrchestrator(const std::string& flag, const std::string& state_dir);

// Makes this process's clients use cluster c's TLS CA, client certificate
// and token file (from `braid up --certs/--token-file`) where the CLI's own
// flags and environment leave them unset.
Status UseClusterSecurity(const LocalCluster& c);

std::unique_ptr<v1::JobService::Stub> MakeJobStub(const std::string& address);

// The job as JSON (field names as in job.proto; enums as strings).
std::string JobToJson(const v1::Job& job);
// One human line: "fashion-mllm-20261121-101500  RUNNING  step 120/2000  loss 1.234  ..."
std::string JobLine(const v1::Job& job);
std::string StateName(v1::JobState s);  // "RUNNING"
bool IsFinal(v1::JobState s);

// Streams WatchJob and draws a progress bar on stderr until the job is
// final. Returns the final job.
StatusOr<v1::Job> WatchUntilDone(v1::JobService::Stub* stub, const std::string& job_id, bool quiet);

}  // namespace braid::cli
