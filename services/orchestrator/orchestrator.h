// Orchestrator: the handlers behind JobService, WorkerRegistry and
// Rendezvous, in plain types (the gRPC services are thin wrappers, see
// *_service.cc). Owns the job table, worker table, rendezvous store,
// scheduler and step committer and the rules that tie them together:
//   - a job is final -> its workers go idle (CANCEL_JOB queued when it did
//     not succeed), its rendezvous keys "job/<id>/" are dropped, the
//     reorderer gets CloseJob;
//   - a rank of a RUNNING job is lost (ReportFailure, or its worker stopped
//     sending heartbeats) -> RECOVERING while the job has restarts left
//     (reliability.max_restarts): metrics, ledger and timeline are rewound
//     to the newest good checkpoint, the other ranks get CANCEL_JOB, and the
//     scheduler starts the next attempt from that checkpoint as soon as
//     workers fit (docs/RELIABILITY.md). With no restarts left -> FAILED,
//     naming the role, rank, worker id and pid:
//       "llm rank 1 (worker w-3, pid 4242) lost at step 37 (stopped sending heartbeats)"
//   - reports of an older attempt are ignored (ReportStep answers CANCEL_JOB);
//   - the last step committed and every rank ReportDone'd -> SUCCEEDED.
//
// Threads: every public method is thread-safe. GetAssignment, the
// rendezvous Get and JobTable::WaitEvents block their caller (a gRPC
// handler thread) without holding the state mutex. Tick() runs on one
// background thread. Shutdown() wakes every blocked caller.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/checkpoint/checkpoint.h"
#include "services/orchestrator/data_planner.h"
#include "services/orchestrator/job_store.h"
#include "services/orchestrator/job_table.h"
#include "services/orchestrator/rendezvous_store.h"
#include "services/orchestrator/scheduler.h"
#include "services/orchestrator/step_committer.h"
#include "services/orchestrator/worker_table.h"

namespace braid::orchestrator {

struct OrchestratorOptions {
  std::string runs_root;  // "" = the working directory
  double heartbeat_interval_seconds = 1.0;
  double heartbeat_timeout_seconds = 5.0;
  Scheduler::AutoLayout auto_layout;  // plans `parallel: auto` jobs; unset = 1/1/1
  // Observers (metrics), called under the orchestrator's lock: keep them
  // cheap and do not call back into the Orchestrator.
  std::function<void(const Job& job, const JobConfig& cfg, const StepCommit& commit)> on_commit;
  std::function<void(const WorkerInfo& w)> on_worker_lost;
  std::function<void(const Job& job)> on_recovery;  // the job just went RECOVERING
};

class Orchestrator {
 public:
  // planner: not owned, outlives this. Clocks are injectable for tests.
  Orchestrator(const OrchestratorOptions& options, DataPlanner* planner, WorkerTable::Clock mono_clock = NowSeconds,
               JobTable::UnixClock unix_clock = UnixNowSeconds);

  // ---- JobService ----
  // Refused (nothing created) with FailedPrecondition when workers of a
  // module are registered but none on the job's `device` (device_match.h).
  StatusOr<Job> SubmitJob(const std::string& yaml, const std::string& source_name);
  StatusOr<Job> GetJob(const std::string& id) const { return jobs_.Get(id); }
  std::vector<Job> ListJobs() const { return jobs_.List(); }
  StatusOr<Job> CancelJob(const std::string& id, const std::string& reason = "");
  // WatchJob reads Snapshot()/WaitEvents() here.
  const JobTable& jobs() const { return jobs_; }

  // ---- WorkerRegistry ----
  StatusOr<WorkerInfo> RegisterWorker(const WorkerRegistration& reg);
  StatusOr<WorkerCommand> Heartbeat(const std::string& worker_id, const std::string& job_id, int64_t step);
  StatusOr<WorkerTable::Poll> GetAssignment(const std::string& worker_id, double wait_seconds);
  // The command in the reply: CANCEL_JOB when the job is already over
  // without success, else NONE.
  StatusOr<Command> ReportStep(const StepReport& report);
  // attempt: the assignment's (0 = not said: taken as the current one).
  Status ReportFailure(const std::string& worker_id, const std::string& job_id, const std::string& message,
                       int attempt = 0);
  Status ReportDone(const std::string& worker_id, const std::string& job_id, int attempt = 0);
  double heartbeat_interval() const { return workers_.heartbeat_interval(); }
  double heartbeat_timeout() const { return workers_.heartbeat_timeout(); }

  // ---- Rendezvous ----
  RendezvousStore& rendezvous() { return rendezvous_; }

  // ---- restart ----
  // Reads every job from `store` (not owned; it outlives this) and saves
  // every later transition there. RUNNING and RECOVERING jobs become
  // RECOVERING ("orchestrator restarted at step N"), rewound to their newest
  // good checkpoint; the scheduler resumes them as workers register again.
  // Call once, before serving.
  Status RestoreJobs(JobStore* store);

  // ---- background ----
  // Declares dead workers (failing their jobs), cleans up final jobs, runs
  // the scheduler once. Call every ~0.5 s from one thread.
  void Tick();
  // Wakes every blocked caller; later long-polls return at once.
  void Shutdown();

  WorkerTable& workers() { return workers_; }

 private:
  // SubmitJob's device check: every module with registered workers has some
  // on cfg.device.
  Status CheckRegisteredDevices(const JobConfig& cfg) const;
  // With mu_ held: marks the job final (if it is not) and cleans up.
  void FinishLocked(const std::string& job_id, JobState state, const std::string& reason,
                    const std::string& except_worker_id);
  // With mu_ held: the job is final; release its workers, drop its keys.
  void CleanupLocked(const std::string& job_id, bool cancel_workers, const std::string& except_worker_id);
  void MaybeSucceedLocked(const std::string& job_id);
  // With mu_ held: a rank of RUNNING job `job_id` is lost; the loss reads
  // "<what> at step N (<cause>)". RECOVERING within the retry budget, else FAILED.
  void LoseRankLocked(const std::string& job_id, const std::string& what, const std::string& cause,
                      const std::string& except_worker_id);
  // With mu_ held: where `job` resumes (its newest good checkpoint, corrupt
  // ones skipped going into its history; dir "" = from scratch); rewinds
  // its metrics, ledger and timeline to there and removes half-written
  // checkpoint dirs.
  StatusOr<ResumePoint> PrepareResumeLocked(const Job& job);
  // Without mu_: CloseJob for the jobs queued by cleanup. Serialised by
  // close_mu_, so once it returns every close queued before it has reached
  // the reorderer (Tick calls it before the scheduler may reopen a job).
  void CloseOnPlanner();

  OrchestratorOptions options_;
  DataPlanner* planner_;
  JobTable jobs_;
  WorkerTable workers_;
  RendezvousStore rendezvous_;
  std::mutex close_mu_;  // CloseOnPlanner
  std::mutex mu_;  // job state transitions, committer, active_, done_
  StepCommitter committer_;
  Scheduler scheduler_;
  std::set<std::string> active_;                       // RUNNING jobs not yet cleaned up
  std::map<std::string, std::set<std::string>> done_;  // job -> workers that ReportDone'd
  std::vector<std::string> to_close_;                  // CloseJob owed to the planner
};

}  // namespace braid::orchestrator
