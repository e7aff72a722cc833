// braid-device-check INDEX: does CUDA device INDEX exist here? Runs
// gpu::CheckDevice in a process of its own; the workers ask it before they
// register (--device cuda). It was introduced when linking the CUDA runtime
// into a worker crashed its metrics server (civetweb's 100 KiB thread stacks
// could not hold cudart's and OpenBLAS's static TLS); the metrics server now
// runs its own 8 MiB-stack thread (common/metrics/metrics_http.h), so the
// workers may link CUDA directly once they compute on it.
// Exit 0 and the device's name on stdout when present; exit 1 and
// "cuda device 3 requested, 2 present" on stdout when not; 2 bad arguments.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/gpu/device.h"

int main(int argc, char** argv) {
  CLI::App app{"braid-device-check: does a CUDA device exist here (the workers' --device cuda check)"};
  int index = 0;
  app.add_option("index", index, "CUDA device index")->required()->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  braid::StatusOr<std::string> name = braid::gpu::DeviceName(index);
  if (!name.ok()) {
    std::printf("%s\n", name.status().message().c_str());
    return 1;
  }
  std::printf("cuda device %d: %s\n", index, name->c_str());
  return 0;
}
