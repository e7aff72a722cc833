#include "common/gpu/device.h"

#include <cstdio>
#include <string>

#if defined(BRAID_HAVE_CUDA)
#include <cuda_runtime.h>
#endif

namespace braid::gpu {

#if defined(BRAID_HAVE_CUDA)

bool BuiltWithCuda() { return true; }

StatusOr<int> DeviceCount() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky launch error state this leaves
    return Status::FailedPrecondition(std::string("no CUDA device: cudaGetDeviceCount returned ") +
                                      cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
  if (n <= 0) return Status::FailedPrecondition("no CUDA device: cudaGetDeviceCount returned 0 devices");
  return n;
}

StatusOr<std::string> DeviceName(int index) {
  RETURN_IF_ERROR(CheckDevice(index));
  cudaDeviceProp prop{};
  const cudaError_t e = cudaGetDeviceProperties(&prop, index);
  if (e != cudaSuccess) {
    return Status::Internal(std::string("cudaGetDeviceProperties(") + std::to_string(index) +
                            ") failed: " + cudaGetErrorString(e));
  }
  char buf[320];
  std::snprintf(buf, sizeof buf, "%s (sm_%d%d, %.1f GiB)", prop.name, prop.major, prop.minor,
                static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
  return std::string(buf);
}

#else

bool BuiltWithCuda() { return false; }

StatusOr<int> DeviceCount() {
  return Status::FailedPrecondition(
      "no CUDA device: this build has no CUDA backend (configure with -DBRAID_WITH_CUDA=ON and the CUDA toolkit)");
}

StatusOr<std::string> DeviceName(int index) {
  RETURN_IF_ERROR(CheckDevice(index));
  return std::string("unreachable");
}

#endif

Status CheckDevice(int index) {
  if (index < 0) {
    return Status::InvalidArgument("cuda device index must be >= 0, got " + std::to_string(index));
  }
  auto count = DeviceCount();
  if (!count.ok()) {
    return Status::FailedPrecondition("cuda device " + std::to_string(index) + " requested, none present (" +
                                      count.status().message() + ")");
  }
  if (index >= *count) {
    return Status::FailedPrecondition("cuda device " + std::to_string(index) + " requested, " +
                                      std::to_string(*count) + " present");
  }
  return Status::Ok();
}

}  // namespace braid::gpu
