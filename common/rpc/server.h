// Starting a gRPC server on HOST:PORT (port 0 = any free port).
#pragma once

#include <grpcpp/server.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace grpc {
class Service;
}

namespace braid::rpc {

using InterceptorFactories = std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>;

// Builds and starts an insecure server listening on `listen` ("HOST:PORT")
// with `services` registered (not owned; they must outlive the server), the
// standard grpc.health.v1 Health service (SERVING while the server runs:
// Kubernetes gRPC probes use it) and `interceptors` (e.g. RPC metrics).
// *bound_port receives the port actually bound (the chosen one for port 0).
// Unavailable when the address cannot be bound. Call from one thread.
StatusOr<std::unique_ptr<grpc::Server>> StartServer(const std::string& listen,
                                                    const std::vector<grpc::Service*>& services, int* bound_port,
                                                    InterceptorFactories interceptors = {});

// "HOST:PORT" -> host and port. InvalidArgument unless PORT is 0..65535.
// "[::1]:80" keeps the brackets in the host.
Status SplitHostPort(const std::string& host_port, std::string* host, int* port);

// The address clients should dial for a server bound on `listen`'s host and
// `port`: wildcard hosts (empty, 0.0.0.0, [::]) become 127.0.0.1.
std::string DialAddress(const std::string& listen, int port);

}  // namespace braid::rpc
