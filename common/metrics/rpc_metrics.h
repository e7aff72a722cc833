// braid_rpc_requests_total{method,code} (docs/METRICS.md): a gRPC server
// interceptor that counts every finished call by its full method name and
// status code name. Pass MakeRpcMetrics(registry) to rpc::StartServer.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace braid {

// The name of a grpc::StatusCode ("OK", "INVALID_ARGUMENT", ...; braid::StatusCodeName
// names braid's own, smaller enum).
std::string GrpcCodeName(int code);

// The interceptor factory; `registry` must outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcMetrics(prometheus::Registry& registry);

}  // namespace braid
