#include "common/ops/backend.h"

#include <cstdio>
#include <cstdlib>

namespace braid::ops {

namespace {
thread_local Backend t_backend;
}  // namespace

const Backend& CurrentBackend() { return t_backend; }

ScopedBackend::ScopedBackend(Backend b) : prev_(t_backend) { t_backend = b; }
ScopedBackend::~ScopedBackend() { t_backend = prev_; }

void MissingDeviceOp(const char* device, const char* op) {
  std::fprintf(stderr, "braid: op %s has no implementation on device %s\n", op, device);
  std::abort();
}

}  // namespace braid::ops
