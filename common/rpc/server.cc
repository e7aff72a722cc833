#include "common/rpc/server.h"

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "common/base/log.h"

namespace braid::rpc {

Status SplitHostPort(const std::string& host_port, std::string* host, int* port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos || colon + 1 == host_port.size())
    return Status::InvalidArgument("address '" + host_port + "' is not HOST:PORT");
  const std::string p = host_port.substr(colon + 1);
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
    return Status::InvalidArgument("address '" + host_port + "': bad port '" + p + "'");
  const int v = std::stoi(p);
  if (v > 65535) return Status::InvalidArgument("address '" + host_port + "': port " + p + " exceeds 65535");
  *host = host_port.substr(0, colon);
  *port = v;
  return Status::Ok();
}

std::string DialAddress(const std::string& listen, int port) {
  std::string host;
  int unused = 0;
  if (!SplitHostPort(listen, &host, &unused).ok() || host.empty() || host == "0.0.0.0" || host == "[::]" ||
      host == "::")
    host = "127.0.0.1";
  return host + ":" + std::to_string(port);
}

StatusOr<std::unique_ptr<grpc::Server>> StartServer(const std::string& listen,
                                                    const std::vector<grpc::Service*>& services, int* bound_port,
                                                    InterceptorFactories interceptors, const ServerOptions& options) {
  std::string host;
  int port = 0;
  RETURN_IF_ERROR(SplitHostPort(listen, &host, &port));
  const RpcSecurity& sec = options.security;
  if (!sec.server_tls() && !IsLoopbackHost(host)) {
    if (!sec.insecure_listen)
      return Status::InvalidArgument(
          "--listen " + listen +
          " is not a loopback address and no TLS certificate is configured: refusing to serve unencrypted gRPC "
          "there. Pass --tls-cert and --tls-key (`braid certs` makes a dev CA), or --insecure-listen to serve "
          "plaintext anyway");
    LOG_WARN("serving plaintext gRPC on %s (--insecure-listen): traffic is unencrypted%s", listen.c_str(),
             sec.token.empty() ? " and unauthenticated" : ", the token included");
  }
  grpc::EnableDefaultHealthCheckService(true);  // process-wide; read when the builder builds
  grpc::ServerBuilder builder;
  if (!interceptors.empty()) builder.experimental().SetInterceptorCreators(std::move(interceptors));
  if (options.max_receive_bytes > 0) builder.SetMaxReceiveMessageSize(options.max_receive_bytes);
  if (options.max_send_bytes > 0) builder.SetMaxSendMessageSize(options.max_send_bytes);
  int selected = 0;
  builder.AddListeningPort(listen, MakeServerCredentials(sec, options.on_auth_failure), &selected);
  for (grpc::Service* s : services) builder.RegisterService(s);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || selected == 0) {
    if (server) server->Shutdown();
    return Status::Unavailable("cannot listen on " + listen + " (address in use or not local?)");
  }
  if (bound_port) *bound_port = selected;
  if (sec.server_tls() || !sec.token.empty())
    LOG_INFO("gRPC on %s:%d: TLS %s, bearer token %s", host.c_str(), selected, sec.server_tls() ? "on" : "off",
             sec.token.empty() ? "off" : "required");
  return server;
}

}  // namespace braid::rpc
