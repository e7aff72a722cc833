// DataPlanner: the scheduler's view of the data reorderer. Production: the
// DataService client (data_client.h); tests: a fake.
//
// Threads: called from the orchestrator's background thread only.
#pragma once

#include <string>

#include "common/base/status.h"
#include "services/orchestrator/core_types.h"

namespace braid::orchestrator {

class DataPlanner {
 public:
  virtual ~DataPlanner() = default;
  // Hands the reorderer a job before any worker gets its assignment; an
  // error fails the job.
  virtual Status OpenJob(const std::string& job_id, const std::string& job_yaml, const Layout& layout) = 0;
  // Drops the job's state on the reorderer (best effort).
  virtual void CloseJob(const std::string& job_id) = 0;
  // The address workers stream their microbatches from.
  virtual std::string address() const = 0;
};

}  // namespace braid::orchestrator
