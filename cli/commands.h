// Subcommands of the `braid` CLI. Exit codes (DESIGN.md §4): 0 success,
// 1 runtime failure, 2 bad input (spec, arguments, data files).
#pragma once

#include <CLI/CLI.hpp>

#include "common/base/status.h"
#include "common/reorder/workload.h"

namespace braid::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitBadInput = 2;

// Maps a Status to an exit code: input problems are 2, the rest 1.
int ExitCodeFor(const Status& s);

// A samples file (JSONL, docs/REORDER.md) read and parsed: InvalidArgument
// "PATH: cannot open" or the parser's "PATH:LINE: field: problem".
StatusOr<std::vector<reorder::WorkSample>> ReadSamplesFile(const std::string& path);

// Each Register* adds a subcommand to `app` and sets `*run` to its action
// when the subcommand is chosen.
void RegisterDevices(CLI::App& app, std::function<int()>* run);  // devices
void RegisterTrain(CLI::App& app, std::function<int()>* run);
void RegisterEval(CLI::App& app, std::function<int()>* run);
void RegisterJobCommands(CLI::App& app, std::function<int()>* run);   // submit status list cancel watch
void RegisterPoolCommands(CLI::App& app, std::function<int()>* run);  // up down run
void RegisterReorder(CLI::App& app, std::function<int()>* run);       // reorder (policies on one batch)
void RegisterProfile(CLI::App& app, std::function<int()>* run);       // profile (cost coefficients)
void RegisterPlan(CLI::App& app, std::function<int()>* run);          // plan (layouts from a cluster spec)
void RegisterCerts(CLI::App& app, std::function<int()>* run);         // certs (dev CA + per-service certificates)

// The client's security flags (docs/RELIABILITY.md, "Security"), on the
// top-level app and accepted after any subcommand: --token-file FILE (env
// BRAID_TOKEN_FILE; else the token is env BRAID_TOKEN), --tls-ca FILE (env
// BRAID_TLS_CA: dial the orchestrator over TLS), --tls-cert/--tls-key (an
// optional client certificate). Once parsed they are loaded into
// rpc::ProcessSecurity(), which MakeJobStub uses; a problem (unreadable or
// empty file) is a CLI::ValidationError (exit 2).
struct SecurityFlags {
  std::string token_file, tls_ca, tls_cert, tls_key;
};
void AddSecurityFlags(CLI::App& app);
// The flags as given (paths), e.g. for `braid up` to pass on to the
// processes it starts.
const SecurityFlags& ClientSecurityFlags();

}  // namespace braid::cli
