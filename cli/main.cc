// braid: the user CLI (DESIGN.md §4).
#include <cstdio>
#include <functional>

#include "cli/commands.h"
#include "common/base/blas_core.h"

namespace braid::cli {
int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kDataLoss:
    case StatusCode::kOutOfRange: return kExitBadInput;
    default: return kExitRuntime;
  }
}
}  // namespace braid::cli

int main(int argc, char** argv) {
  braid::EnsureOpenBlasCore(argv);
  CLI::App app{"braid: disaggregated multimodal LLM training.\n"
               "`braid run JOB.yaml` trains with local pools of processes; `braid train\n"
               "JOB.yaml --single-process` is the numerical reference."};
  app.require_subcommand(1);
  app.fallthrough();  // the security flags may follow the subcommand
  braid::cli::AddSecurityFlags(app);
  std::function<int()> run;
  braid::cli::RegisterTrain(app, &run);
  braid::cli::RegisterEval(app, &run);
  braid::cli::RegisterJobCommands(app, &run);
  braid::cli::RegisterPoolCommands(app, &run);
  braid::cli::RegisterReorder(app, &run);
  braid::cli::RegisterProfile(app, &run);
  braid::cli::RegisterPlan(app, &run);
  braid::cli::RegisterCerts(app, &run);
  braid::cli::RegisterDevices(app, &run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return braid::cli::kExitBadInput;
  }
  return run ? run() : braid::cli::kExitBadInput;
}
