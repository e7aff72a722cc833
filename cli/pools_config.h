// The local pools file (deploy/local/pools.yaml): which processes `braid up`
// starts. Errors name the field path, like the job spec's.
#pragma once

#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/config/job_config.h"

namespace braid::cli {

struct ServiceSpec {
  std::string listen = "127.0.0.1:0";
  std::string metrics_listen = "127.0.0.1:0";
  int threads = 1;
};
struct PoolSpec {
  int workers = 1;
  int threads = 1;
  bool adaptive_threads = false;  // up to `threads`, fewer while other processes compute
  std::string metrics_listen = "127.0.0.1:0";  // each worker's; "" = no metrics served
  // What its workers compute on (--device): "cpu" or "cuda"; a job runs
  // only on workers of its own `device` (docs/GPU.md step 7).
  std::string device = "cpu";
  // cuda only (--device-index): YAML `device_index: N` puts every worker on
  // device N, a list gives one index per worker; absent (empty here) =
  // worker i on device i, one worker per visible GPU. Use DeviceIndexOf.
  std::vector<int> device_index;
};

// The CUDA device of worker `worker` (0-based) of pool `p`.
int DeviceIndexOf(const PoolSpec& p, int worker);
struct PoolsConfig {
  ServiceSpec orchestrator, reorderer;
  PoolSpec encoder, llm, generator;
};

StatusOr<PoolsConfig> LoadPoolsConfig(const std::string& path);
// Pools sized to a job's layout (one worker per DP rank): encoder and
// generator workers on one thread, LLM workers adaptive over every core.
PoolsConfig PoolsForJob(const JobConfig& job);

}  // namespace braid::cli
