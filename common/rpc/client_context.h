// Client-side helpers: every unary RPC carries a deadline (docs/PROTOCOL.md:
// default 10 s, long-polls their wait + 5 s).
#pragma once

#include <grpcpp/client_context.h>

#include <memory>

namespace braid::rpc {

inline constexpr double kDefaultRpcTimeoutSeconds = 10.0;
inline constexpr double kLongPollSlackSeconds = 5.0;

// A fresh context whose deadline is now + timeout_seconds (<= 0: no deadline).
// A ClientContext serves one call; make one per call. Thread-safe.
std::unique_ptr<grpc::ClientContext> MakeContext(double timeout_seconds = kDefaultRpcTimeoutSeconds);

}  // namespace braid::rpc
