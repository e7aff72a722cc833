// braid_rpc_requests_total{method,code} (docs/METRICS.md): a gRPC server
// interceptor that counts every finished call by its full method name and
// status code name. Pass MakeRpcMetrics(registry) to rpc::StartServer.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <string>

namespace braid {

// The name of a grpc::StatusCode ("OK", "INVALID_ARGUMENT", ...; braid::StatusCodeName
// names braid's own, smaller enum).
std::string GrpcCodeName(int code);

// The interceptor factory; `registry` must outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcMetrics(prometheus::Registry& registry);

// braid_auth_failures_total{method}: the observer to pass as
// rpc::ServerOptions::on_auth_failure. A call the token check refuses never
// reaches the interceptor above, so this also counts it in
// braid_rpc_requests_total{method,code="UNAUTHENTICATED"}. `registry` must
// outlive the server.
std::function<void(const std::string& method)> MakeAuthFailureCounter(prometheus::Registry& registry);

}  // namespace braid
