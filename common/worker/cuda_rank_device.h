// The CUDA device of a worker's rank (docs/GPU.md step 3): a cuda::Context on
// one device (its compute stream, cuBLASLt handle, sticky error) and the CUDA
// backend of ops. Built only with the CUDA backend (BRAID_HAVE_CUDA; library
// braid_worker_cuda); this header needs no CUDA headers.
#pragma once

#include <memory>

#include "common/base/status.h"
#include "common/worker/rank_device.h"

namespace braid::cuda {
class Context;
}

namespace braid::worker {

// A context on `device_index` (cudaSetDevice on the calling thread); the
// scopes it hands out make the context and the CUDA backend current. bf16:
// the backend's bf16 autocast precision (job field `precision: bf16`).
StatusOr<std::unique_ptr<RankDevice>> OpenCudaRankDevice(int device_index, bool bf16 = false);

// The CUDA context of a device OpenCudaRankDevice made (its compute stream:
// the NCCL all-reduce orders itself against it); null for any other device.
cuda::Context* CudaContextOf(RankDevice& device);

// Every rank of this process on `device_index`.
RankDeviceFactory CudaRankDeviceFactory(int device_index, bool bf16 = false);

}  // namespace braid::worker
