// A PlanContext from what a user has: a job spec, a cluster spec, a workload
// (synthesised or read from a samples file) and optionally a `braid
// profile` of the job's model. Shared by `braid plan` and the
// orchestrator's `parallel: auto`.
#pragma once

#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/plan/step_model.h"

namespace braid {
struct JobConfig;
}

namespace braid::plan {

struct PlanInputs {
  std::vector<reorder::WorkSample> batch;  // one global batch
  std::string profile;                     // `braid profile` YAML; "" = FLOPs / (peak x efficiency)
};

// The job's model, the cluster, the batch with every image at the encoder's
// tokens per image (the job's model decides how many patches an image
// makes), the job's reorder policy (none = sequential) and unit costs. With
// a profile, its seconds are per unit on one device (profile with
// `--threads 1` for a shared-compute cluster, where a device is a core) and
// its backward ratio is used; on a shared-compute cluster the LLM worker's
// rate is the profile's LLM speedup (braid's pools give it every core, the
// encoder and generator one). InvalidArgument naming the profile's problem.
StatusOr<PlanContext> MakePlanContext(const JobConfig& job, const ClusterSpec& cluster, const PlanInputs& in);

}  // namespace braid::plan
