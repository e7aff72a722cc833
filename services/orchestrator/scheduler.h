// Scheduler: starts the oldest PENDING job once enough idle workers of every
// role are registered. FIFO: later jobs wait behind it ("queued behind <id>").
//
// A job needs layout.of(role).dp workers per role (one per DP rank; tp and pp
// are not scheduled yet, the runtime trains DP only). parallel.auto_layout has
// no planner yet and resolves to 1/1/1 (core_types.h ResolveLayout).
// While short, the job's reason names every missing role:
//   "waiting for 2 llm workers, 1 registered"
//   "waiting for 3 encoder workers (1 registered), 2 llm workers (1 registered)"
// where "registered" counts the live workers of that role; when some of them
// are busy with another job it says so: "..., 2 registered (1 busy)".
// When enough are idle: ranks go by registration order, the DataPlanner gets
// OpenJob first (a failure fails the job: "reorderer could not open the job:
// <status>"), then the job turns RUNNING, `on_running` runs (the step
// committer starts) and every chosen worker gets its Assignment.
//
// Threads: RunOnce() from one thread (the orchestrator's background thread).
// It takes `state_mu` (shared with whatever else changes job states) around
// its decisions but not around DataPlanner::OpenJob.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "services/orchestrator/data_planner.h"
#include "services/orchestrator/job_table.h"
#include "services/orchestrator/worker_table.h"

namespace braid::orchestrator {

struct StartedJob {
  std::string job_id;
  Layout layout;
  std::vector<Assignment> assignments;  // with the worker each went to, same order
  std::vector<std::string> worker_ids;
};

class Scheduler {
 public:
  // Called under state_mu after the job turned RUNNING and before any
  // assignment is handed out; an error fails the job.
  using OnRunning = std::function<Status(const StartedJob&)>;

  Scheduler(JobTable* jobs, WorkerTable* workers, DataPlanner* planner, std::mutex* state_mu,
            OnRunning on_running = nullptr);

  // One pass: updates pending reasons and starts at most one job. Returns
  // the job started, if any.
  std::optional<StartedJob> RunOnce();

  // The reason text for a layout given the live workers (pure; tested).
  // Empty when enough workers are idle.
  static std::string PendingReason(const Layout& layout, const std::vector<int>& idle_by_role,
                                   const std::vector<int>& busy_by_role);

 private:
  JobTable* jobs_;
  WorkerTable* workers_;
  DataPlanner* planner_;
  std::mutex* state_mu_;
  OnRunning on_running_;
};

}  // namespace braid::orchestrator
