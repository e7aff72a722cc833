#include "common/rpc/client_context.h"

#include <chrono>

namespace braid::rpc {

std::unique_ptr<grpc::ClientContext> MakeContext(double timeout_seconds) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (timeout_seconds > 0) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::duration_cast<std::chrono::system_clock::duration>(
                          std::chrono::duration<double>(timeout_seconds)));
  }
  return ctx;
}

}  // namespace braid::rpc
