// Job spec YAML (common/config/job_config.h): parse + validate must return a
// Status for any bytes, and a spec that parses must survive the round trip
// through JobConfigToYaml unchanged (what the orchestrator stores and hands
// to workers).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config/job_config.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  braid::StatusOr<braid::JobConfig> cfg = braid::ParseJobConfig(text, "fuzz.yaml");
  if (!cfg.ok()) return 0;
  FUZZ_CHECK(braid::ValidateJobConfig(*cfg).ok());
  const std::string yaml = braid::JobConfigToYaml(*cfg);
  braid::StatusOr<braid::JobConfig> again = braid::ParseJobConfig(yaml, "roundtrip.yaml");
  if (!again.ok()) std::fprintf(stderr, "round trip failed: %s\n%s\n", again.status().ToString().c_str(), yaml.c_str());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *cfg);
  return 0;
}
