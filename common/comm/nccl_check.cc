#include "common/comm/nccl_check.h"

#include <string>

namespace braid::comm {

namespace {

const char* NcclResultName(ncclResult_t r) {
  switch (r) {
    case ncclSuccess: return "ncclSuccess";
    case ncclUnhandledCudaError: return "ncclUnhandledCudaError";
    case ncclSystemError: return "ncclSystemError";
    case ncclInternalError: return "ncclInternalError";
    case ncclInvalidArgument: return "ncclInvalidArgument";
    case ncclInvalidUsage: return "ncclInvalidUsage";
    case ncclRemoteError: return "ncclRemoteError";
    case ncclInProgress: return "ncclInProgress";
    default: return "ncclResult";
  }
}

}  // namespace

StatusCode NcclStatusCode(ncclResult_t r) {
  switch (r) {
    case ncclSuccess: return StatusCode::kOk;
    case ncclSystemError:
    case ncclRemoteError: return StatusCode::kUnavailable;
    case ncclInvalidArgument:
    case ncclInvalidUsage: return StatusCode::kInvalidArgument;
    default: return StatusCode::kInternal;
  }
}

Status NcclError(ncclResult_t r, const char* call, const char* file, int line) {
  std::string m = std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " + NcclResultName(r) +
                  " " + std::to_string(static_cast<int>(r)) + " (" + ncclGetErrorString(r) + ")";
  const char* last = ncclGetLastError(nullptr);
  if (last != nullptr && last[0] != '\0') m += ": " + std::string(last);
  const StatusCode code = NcclStatusCode(r);
  return Status(code == StatusCode::kOk ? StatusCode::kInternal : code, std::move(m));
}

}  // namespace braid::comm
