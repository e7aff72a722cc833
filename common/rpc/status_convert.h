// braid::Status <-> grpc::Status. The codes map one to one where gRPC has
// the same code (INVALID_ARGUMENT, NOT_FOUND, ...); the message is kept as is.
// Thread-safe (pure functions).
#pragma once

#include <grpcpp/support/status.h>

#include "common/base/status.h"

namespace braid::rpc {

grpc::Status ToGrpcStatus(const Status& status);
Status FromGrpcStatus(const grpc::Status& status);

}  // namespace braid::rpc
