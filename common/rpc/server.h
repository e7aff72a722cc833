// Starting a gRPC server on HOST:PORT (port 0 = any free port).
#pragma once

#include <grpcpp/server.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/rpc/security.h"

namespace grpc {
class Service;
}

namespace braid::rpc {

using InterceptorFactories = std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>;

// Message size limits (docs/RELIABILITY.md, "Security"). The job API (and
// everything else the orchestrator serves on the same port: worker reports,
// rendezvous keys) and the reorderer's requests (OpenJob carries the job
// spec): 4 MiB. A WorkerMicrobatch (the reorderer's replies, the workers'
// receive limit on that stream): 64 MiB. A worker's own WorkerStatus
// service takes only empty requests: 64 KiB.
inline constexpr int kJobApiMaxMessageBytes = 4 << 20;
inline constexpr int kMicrobatchMaxMessageBytes = 64 << 20;
inline constexpr int kWorkerStatusMaxMessageBytes = 64 << 10;

struct ServerOptions {
  // Token check, TLS and --insecure-listen. The default (no token, no TLS)
  // serves plaintext and refuses non-loopback addresses.
  RpcSecurity security;
  AuthFailureObserver on_auth_failure;  // e.g. MakeAuthFailureCounter(registry) (common/metrics/rpc_metrics.h)
  int max_receive_bytes = kJobApiMaxMessageBytes;
  int max_send_bytes = -1;  // -1: gRPC's default (unlimited)
};

// Builds and starts a server listening on `listen` ("HOST:PORT") with
// `services` registered (not owned; they must outlive the server), the
// standard grpc.health.v1 Health service (SERVING while the server runs:
// Kubernetes gRPC probes use it; it needs no token) and `interceptors`
// (e.g. RPC metrics), secured by options.security (see security.h).
// *bound_port receives the port actually bound (the chosen one for port 0).
// InvalidArgument when `listen` is not loopback and neither TLS nor
// --insecure-listen is configured (with --insecure-listen, a warning in the
// log says the traffic is unencrypted); Unavailable when the address
// cannot be bound. Call from one thread.
StatusOr<std::unique_ptr<grpc::Server>> StartServer(const std::string& listen,
                                                    const std::vector<grpc::Service*>& services, int* bound_port,
                                                    InterceptorFactories interceptors = {},
                                                    const ServerOptions& options = {});

// "HOST:PORT" -> host and port. InvalidArgument unless PORT is 0..65535.
// "[::1]:80" keeps the brackets in the host.
Status SplitHostPort(const std::string& host_port, std::string* host, int* port);

// The address clients should dial for a server bound on `listen`'s host and
// `port`: wildcard hosts (empty, 0.0.0.0, [::]) become 127.0.0.1.
std::string DialAddress(const std::string& listen, int port);

}  // namespace braid::rpc
