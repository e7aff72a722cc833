// Error checks for every NCCL call (docs/GPU.md, "Checked everywhere";
// docs/NCCL.md). In functions returning a Status:
//
//   BRAID_NCCL_RETURN_IF_ERROR(ncclGroupStart());
//
// A failure becomes a Status naming the call and the place, with NCCL's text
// for the code (ncclGetErrorString) and its last error message
// (ncclGetLastError). ncclInProgress is *not* a success here: calls on a
// non-blocking communicator that may return it go through NcclComm, which
// waits for the communicator to settle.
#pragma once

#include <nccl.h>

#include "common/base/status.h"

namespace braid::comm {

// "ncclAllReduce(...) failed at common/comm/nccl_comm.cc:12: ncclSystemError
// (unhandled system error): <ncclGetLastError>". The code maps to
// Unavailable for system and remote errors (a peer or the network went
// away), InvalidArgument for invalid arguments and usage, Internal otherwise.
Status NcclError(ncclResult_t r, const char* call, const char* file, int line);

// The StatusCode an NCCL result maps to (as above).
StatusCode NcclStatusCode(ncclResult_t r);

}  // namespace braid::comm

#define BRAID_NCCL_RETURN_IF_ERROR(call)                                        \
  do {                                                                          \
    const ncclResult_t braid_nccl_r_ = (call);                                  \
    if (braid_nccl_r_ != ncclSuccess)                                           \
      return ::braid::comm::NcclError(braid_nccl_r_, #call, __FILE__, __LINE__); \
  } while (0)
