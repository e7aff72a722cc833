// `braid trace`: a run directory's timeline.jsonl (every rank's spans of
// every committed step, written by the orchestrator, docs/PROTOCOL.md) as a
// Chrome / Perfetto trace: one process per module, one thread (track) per
// DP rank, one complete event per span (compute, send, recv_wait,
// transfer_wait, allreduce, optimizer) on a common wall-clock axis. Pure.
#pragma once

#include <cstdint>
#include <string>

#include "common/base/status.h"

namespace braid::cli {

// Steps first..last (inclusive) of `jsonl` (one timeline line per step).
// InvalidArgument naming the line for malformed input; NotFound when no step
// of the range is in the file (naming the steps it has).
StatusOr<std::string> TimelineToChromeTrace(const std::string& jsonl, int64_t first, int64_t last);

// "A:B" -> [A, B]; "A" -> [A, A]; "A:" -> [A, max]. InvalidArgument otherwise.
Status ParseStepRange(const std::string& text, int64_t* first, int64_t* last);

}  // namespace braid::cli
