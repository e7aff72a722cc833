// main() of every GPU test binary (ctest label `gpu`): with no usable CUDA
// device it prints why (the cudaGetDeviceCount error) and exits 77, which
// ctest reports as "Skipped" (SKIP_RETURN_CODE); otherwise it runs the
// gtest cases. --gtest_list_tests works without a device.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "common/gpu/device.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (!testing::GTEST_FLAG(list_tests)) {
    auto count = braid::gpu::DeviceCount();
    if (!count.ok()) {
      std::printf("SKIPPED: %s\n", count.status().message().c_str());
      return 77;
    }
    auto name = braid::gpu::DeviceName(0);
    std::printf("GPU: %d device(s); device 0: %s\n", *count, name.ok() ? name->c_str() : "?");
  }
  return RUN_ALL_TESTS();
}
