// `parallel: auto` (docs/PLANNER.md "In the orchestrator"): the layout a
// job runs with, planned from the job's own first global batch (its real
// sample shapes), the workers registered per role, a cluster spec of the
// machines the pools run on, and the job's cost profile
// (data.reorder_profile) when it has one. Restricted to what the runtime
// executes (TP for the encoder and the LLM, PP for the LLM), one worker per
// module rank (dp * tp * pp within the registered workers), the job's
// microbatch count.
#pragma once

#include <array>

#include "common/base/status.h"
#include "common/plan/cluster_spec.h"
#include "services/orchestrator/core_types.h"

namespace braid::orchestrator {

// This host as a shared-compute cluster: deploy/clusters/local-cpu.yaml
// (embedded at build time) with its devices set to this host's cores
// (std::thread::hardware_concurrency). Used when the orchestrator gets no
// --cluster.
plan::ClusterSpec LocalHostCluster();

// Plans `cfg` for at most workers[RoleIndex(r)] DP ranks of each role
// (each >= 1). InvalidArgument when the job's data or profile cannot be
// read; FailedPrecondition when no layout fits.
StatusOr<Layout> PlanAutoLayout(const JobConfig& cfg, const std::array<int, 3>& workers,
                                const plan::ClusterSpec& cluster);

}  // namespace braid::orchestrator
