// The local pools file (cli/pools_config.h). LoadPoolsConfig takes a path, so
// the input goes through a scratch file.
#include <cstddef>
#include <cstdint>

#include "cli/pools_config.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = braid::fuzz::WriteInputFile(data, size, "pools.yaml");
  braid::StatusOr<braid::cli::PoolsConfig> pools = braid::cli::LoadPoolsConfig(path);
  if (pools.ok()) {
    FUZZ_CHECK(pools->encoder.workers >= 1 && pools->llm.workers >= 1 && pools->generator.workers >= 1);
    FUZZ_CHECK(pools->orchestrator.threads >= 1 && pools->reorderer.threads >= 1);
  }
  return 0;
}
