// Address files: a process started on port 0 writes the "HOST:PORT" it
// actually serves on, so launchers and tests can find it (docs/PROTOCOL.md,
// "Process command lines"). Thread-safe (no shared state).
#pragma once

#include <string>

#include "common/base/status.h"

namespace braid::rpc {

// Writes host_port + "\n" to path atomically (path.tmp-<pid>, fsync, rename):
// a reader never sees a partial file.
Status WriteAddressFile(const std::string& path, const std::string& host_port);

// Reads the address (trimmed), polling every 50 ms until the file exists and
// is non-empty, for at most wait_seconds (0 = one try). DeadlineExceeded
// names the file when it does not appear in time.
StatusOr<std::string> ReadAddressFile(const std::string& path, double wait_seconds);

}  // namespace braid::rpc
