// main() of every GPU test binary (ctest label `gpu`): with no usable CUDA
// device it prints why (the cudaGetDeviceCount error) and exits 77, which
// ctest reports as "Skipped" (SKIP_RETURN_CODE); otherwise it runs the
// gtest cases. --gtest_list_tests works without a device.
// --braid_min_devices=N (set by braid_gpu_test_part for cases that need
// several GPUs, e.g. NCCL ranks on distinct devices): fewer than N devices
// also exits 77, saying how many are needed and present. This is the only
// place GPU tests skip; the cases themselves never do.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/gpu/device.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  int min_devices = 1;
  constexpr char kMinFlag[] = "--braid_min_devices=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], kMinFlag, sizeof kMinFlag - 1) == 0) {
      min_devices = std::atoi(argv[i] + sizeof kMinFlag - 1);
      if (min_devices < 1) {
        std::fprintf(stderr, "bad %s\n", argv[i]);
        return 2;
      }
    } else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (!testing::GTEST_FLAG(list_tests)) {
    auto count = braid::gpu::DeviceCount();
    if (!count.ok()) {
      std::printf("SKIPPED: %s\n", count.status().message().c_str());
      return 77;
    }
    if (*count < min_devices) {
      std::printf("SKIPPED: these cases need %d CUDA devices, %d present\n", min_devices, *count);
      return 77;
    }
    auto name = braid::gpu::DeviceName(0);
    std::printf("GPU: %d device(s); device 0: %s\n", *count, name.ok() ? name->c_str() : "?");
  }
  return RUN_ALL_TESTS();
}
