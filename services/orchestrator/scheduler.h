// Scheduler: starts the oldest PENDING job once enough idle workers of every
// role are registered. FIFO: later jobs wait behind it ("queued behind <id>").
//
// A job needs layout.of(role).dp workers per role (one per DP rank; tp and pp
// are not scheduled yet, the runtime trains DP only). A `parallel: auto` job
// is planned once, when every role has an idle worker, by `auto_layout`
// with the idle workers per role as the DP limits (without one it runs
// 1/1/1); the reason reads "planning the layout" meanwhile, and a planning
// error fails the job ("parallel: auto: <status>").
// While short, the job's reason names every missing role:
//   "waiting for 2 llm workers, 1 registered"
//   "waiting for 3 encoder workers (1 registered), 2 llm workers (1 registered)"
// where "registered" counts the live workers of that role; when some of them
// are busy with another job it says so: "..., 2 registered (1 busy)".
// Only workers registered with the job's `device` count, and are assigned
// (docs/GPU.md step 7); when workers of a role are registered but none on
// the job's device, the job FAILS at once with device_match.h's message
// rather than wait ("device: cuda: the llm module needs cuda workers ...").
// When enough are idle: ranks go by registration order, the DataPlanner gets
// OpenJob first (a failure fails the job: "reorderer could not open the job:
// <status>"), then the job turns RUNNING, `on_running` runs (the step
// committer starts) and every chosen worker gets its Assignment.
//
// Threads: RunOnce() from one thread (the orchestrator's background thread).
// It takes `state_mu` (shared with whatever else changes job states) around
// its decisions but not around DataPlanner::OpenJob.
#pragma once

#include <array>
#include <functional>
#include <map>
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
  // Plans a `parallel: auto` job for at most `workers[RoleIndex(r)]` DP ranks
  // per role. Runs without state_mu held.
  using AutoLayout = std::function<StatusOr<Layout>(const JobConfig&, const std::array<int, 3>& workers)>;

  Scheduler(JobTable* jobs, WorkerTable* workers, DataPlanner* planner, std::mutex* state_mu,
            OnRunning on_running = nullptr, AutoLayout auto_layout = nullptr);

  // One pass: updates pending reasons and starts at most one job. Returns
  // the job started, if any.
  std::optional<StartedJob> RunOnce();

  // The reason text for a layout given the live workers (pure; tested).
  // Empty when enough workers are idle.
  static std::string PendingReason(const Layout& layout, const std::vector<int>& idle_by_role,
                                   const std::vector<int>& busy_by_role);

 private:
  // Plans the oldest pending job if it is `parallel: auto` and not planned
  // yet. True when the job cannot start this pass.
  bool PlanPendingAutoLayout();

  JobTable* jobs_;
  WorkerTable* workers_;
  DataPlanner* planner_;
  std::mutex* state_mu_;
  OnRunning on_running_;
  AutoLayout auto_layout_;
  std::map<std::string, Layout> planned_;  // auto layouts by job id (RunOnce's thread only)
};

}  // namespace braid::orchestrator
