// JobTable: every job the orchestrator knows, its state and reason, and the
// per-job event log WatchJob streams from.
//
// Threads: every method is thread-safe (one internal mutex). WaitEvents()
// blocks the calling thread (a WatchJob handler) until an event, the
// timeout or Shutdown(); it never holds the mutex while blocked.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/config/job_config.h"
#include "services/orchestrator/core_types.h"
#include "services/orchestrator/job_store.h"

namespace braid::orchestrator {

class JobTable {
 public:
  // Same numbers as braid.v1.JobEvent.Kind.
  enum class EventKind { kSnapshot = 1, kStateChanged = 2, kStepCommitted = 3 };
  struct Event {
    int64_t seq = 0;  // increasing over the whole table
    EventKind kind = EventKind::kSnapshot;
    Job job;          // the job as it is after the event
  };
  using UnixClock = std::function<double()>;

  // runs_root: where run dirs of jobs with a relative checkpoint.dir go
  // ("" = the working directory). unix_clock: ids and timestamps.
  explicit JobTable(std::string runs_root, UnixClock unix_clock = UnixNowSeconds);

  // Parses and validates (the `braid train` validator), assigns the id
  // "<name>-<YYYYmmdd-HHMMSS>" (local time; "-2", "-3", ... on collision with
  // a known job or an existing run dir), creates the run dir
  // <runs_root>/<checkpoint.dir>/<id> (an absolute checkpoint.dir is used as
  // is), writes job.yaml (the resolved spec) there, and queues the job
  // PENDING. InvalidArgument "<field.path>: <problem>" for a bad spec, with
  // nothing created; Unavailable when the run dir cannot be made.
  StatusOr<Job> Submit(const std::string& yaml_text, const std::string& source_name = "<request>");
  // From then on every state transition is saved to `store` (not owned)
  // before it is visible; a Submit that cannot be saved fails (Unavailable).
  void AttachStore(JobStore* store);
  // Puts a job read back from the store into the table, as it was.
  // AlreadyExists for a known id; InvalidArgument when its spec does not parse.
  Status Restore(const StoredJob& stored);
  StatusOr<Job> Get(const std::string& id) const;
  std::vector<Job> List() const;  // newest first
  // PENDING/RUNNING -> CANCELLED (reason "cancelled by user"). NotFound;
  // FailedPrecondition when the job is already final.
  // `reason` becomes the job's reason ("" = "cancelled by user").
  StatusOr<Job> Cancel(const std::string& id, const std::string& reason = "");

  // ---- for the scheduler and the step committer -------------------------
  StatusOr<JobConfig> Config(const std::string& id) const;
  // Jobs waiting for workers, PENDING or RECOVERING, oldest first.
  std::vector<std::string> PendingIds() const;
  // Sets a waiting job's reason (an event only when it changes). For a
  // RECOVERING job the reason follows what was lost: "<loss>; <reason>".
  Status SetPendingReason(const std::string& id, const std::string& reason);
  // PENDING or RECOVERING -> RUNNING with the layout actually used, and the
  // next attempt; job.yaml is rewritten with the layout (parallel.auto_layout
  // resolved). Returns the attempt number. FailedPrecondition otherwise.
  StatusOr<int> MarkRunning(const std::string& id, const Layout& layout);
  // RUNNING (or RECOVERING, after an orchestrator restart) -> RECOVERING: `loss` ("llm rank 1 (worker w-3, pid 42) lost at
  // step 37: ...") becomes the reason and a history event; the job's step
  // goes back to resume_step, the next attempt starts there from
  // resume_checkpoint ("" = step 0 from scratch). Counts a restart.
  Status MarkRecovering(const std::string& id, const std::string& loss, int64_t resume_step,
                        const std::string& resume_checkpoint);
  // Appends to the job's history (shown by `braid status`).
  Status AddHistory(const std::string& id, const std::string& text);
  // -> a final state with a reason. FailedPrecondition when already final.
  Status MarkFinal(const std::string& id, JobState state, const std::string& reason);
  // A committed step: step = metrics.step + 1, last metrics, timeline, eta.
  Status RecordStep(const std::string& id, const StepMetrics& metrics, const std::vector<ModuleTimeline>& timeline);

  // ---- watching ----------------------------------------------------------
  // The job now, as a snapshot event carrying the latest seq.
  StatusOr<Event> Snapshot(const std::string& id) const;
  // The job's events with seq > after_seq, waiting up to timeout_seconds
  // for the first one; empty on timeout or after Shutdown(). The newest
  // kMaxEventsPerJob events are kept per job. NotFound for an unknown id.
  StatusOr<std::vector<Event>> WaitEvents(const std::string& id, int64_t after_seq, double timeout_seconds) const;
  // Wakes every waiter; later waits return at once.
  void Shutdown();
  bool shutting_down() const;

  static constexpr size_t kMaxEventsPerJob = 256;
  static constexpr size_t kMaxHistory = 100;  // history entries kept per job

 private:
  struct Record {
    Job job;
    JobConfig config;
    std::deque<Event> events;
    std::string loss;  // what a RECOVERING job lost (the first part of its reason)
  };
  Record* Find(const std::string& id);
  const Record* Find(const std::string& id) const;
  void Emit(Record& r, EventKind kind);  // with mu_ held
  Status Persist(const Record& r);       // with mu_ held; Ok without a store

  const std::string runs_root_;
  const UnixClock clock_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<std::string, Record> jobs_;
  std::vector<std::string> order_;  // submission order
  int64_t seq_ = 0;
  bool shutdown_ = false;
  JobStore* store_ = nullptr;
};

}  // namespace braid::orchestrator
