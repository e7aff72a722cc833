// The orchestrator's gRPC services and its DataService client, behind
// factories so that main.cc and other light files never include the
// generated .grpc.pb.h headers.
//
// Threads: gRPC calls the services on its own handler threads; each handler
// only calls the (thread-safe) Orchestrator.
#pragma once

#include <grpcpp/impl/service_type.h>

#include <memory>
#include <string>

#include "common/rpc/security.h"
#include "services/orchestrator/data_planner.h"
#include "services/orchestrator/orchestrator.h"

namespace braid::orchestrator {

// JobService. WatchJob wakes every `watch_poll_seconds` to notice a client
// that went away or a server shutting down.
std::unique_ptr<grpc::Service> MakeJobService(Orchestrator* orchestrator, double watch_poll_seconds = 0.5);
std::unique_ptr<grpc::Service> MakeWorkerRegistryService(Orchestrator* orchestrator);
std::unique_ptr<grpc::Service> MakeRendezvousService(Orchestrator* orchestrator);

// The DataPlanner over DataService. `address` ("HOST:PORT"), or when empty
// `address_file` (read, waiting up to 10 s, at the first OpenJob: the
// reorderer may start after the orchestrator). With neither, OpenJob fails
// with FailedPrecondition saying how to configure one.
// `security`: its token and TLS settings (docs/RELIABILITY.md, "Security").
std::unique_ptr<DataPlanner> MakeDataClient(const std::string& address, const std::string& address_file,
                                            double rpc_timeout_seconds = 10.0,
                                            const rpc::RpcSecurity& security = rpc::RpcSecurity());

}  // namespace braid::orchestrator
