// braid devices: the CUDA devices this machine's workers could use (the
// indices a pools file's `device_index` and `--device-index` refer to, as
// CUDA_VISIBLE_DEVICES leaves them), or why there are none.
#include <cstdio>

#include "cli/commands.h"
#include "common/gpu/device.h"

namespace braid::cli {

namespace {
int RunDevices() {
  auto count = gpu::DeviceCount();
  if (!count.ok()) {
    std::printf("%s\n", count.status().message().c_str());
    return kExitRuntime;
  }
  for (int i = 0; i < *count; ++i) {
    auto name = gpu::DeviceName(i);
    std::printf("cuda %d: %s\n", i, name.ok() ? name->c_str() : name.status().message().c_str());
  }
  return kExitOk;
}
}  // namespace

void RegisterDevices(CLI::App& app, std::function<int()>* run) {
  CLI::App* cmd = app.add_subcommand(
      "devices", "List the CUDA devices here (the indices of device_index / --device-index), or say why there are none");
  cmd->callback([run]() { *run = [] { return RunDevices(); }; });
}

}  // namespace braid::cli
