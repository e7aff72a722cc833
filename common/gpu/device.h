// Which CUDA devices this process can use. Compiled in every build: without
// the CUDA backend (BRAID_WITH_CUDA=OFF, or no toolkit) every query answers
// "this build has no CUDA backend", so callers (worker registration, the GPU
// tests' skip) need no #ifdef.
#pragma once

#include <string>

#include "common/base/status.h"

namespace braid::gpu {

// True when this binary was built with the CUDA backend.
bool BuiltWithCuda();

// The number of CUDA devices visible to this process (>= 1), or why there are
// none: "no CUDA device: cudaGetDeviceCount returned cudaErrorNoDevice (no
// CUDA-capable device is detected)", or "this build has no CUDA backend".
StatusOr<int> DeviceCount();

// OK when device `index` exists; otherwise FAILED_PRECONDITION naming the
// request and what is present ("cuda device 3 requested, 2 present").
Status CheckDevice(int index);

// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)" for an existing device.
StatusOr<std::string> DeviceName(int index);

}  // namespace braid::gpu
