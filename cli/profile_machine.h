// `braid profile --machine`: this host as a planner cluster spec (see the .cc).
#pragma once

#include <string>

#include "cli/commands.h"

namespace braid::cli {

// Measures this host and writes its cluster spec YAML to `out_path` ("" or
// "-" = stdout). Exit code.
int ProfileMachine(const std::string& out_path, int repeats);

}  // namespace braid::cli
