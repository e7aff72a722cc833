// WorkerTable: registered workers, their liveness, their job, and the
// commands and assignments waiting for them.
//
// Threads: every method is thread-safe (one internal mutex).
// WaitForAssignment() blocks the calling thread (a GetAssignment handler)
// until an assignment or command arrives, the wait passes or Shutdown().
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/status.h"
#include "services/orchestrator/core_types.h"

namespace braid::orchestrator {

// braid.v1.PROTOCOL_VERSION_CURRENT (docs/PROTOCOL.md).
inline constexpr int kProtocolVersion = 1;

struct WorkerRegistration {
  Role role = Role::kEncoder;
  std::string host;
  int pid = 0;
  int protocol_version = 0;
  std::string device = "cpu";  // cpu | cuda (an empty one registers as cpu)
  int device_index = 0;        // the CUDA device of a cuda worker
  int threads = 0;
  std::string name;
};

struct WorkerInfo {
  std::string id;  // "w-<n>" (see set_id_prefix), n = registration order from 1
  WorkerRegistration reg;
  int64_t order = 0;  // registration order
  double last_seen = 0;  // clock seconds of the last heartbeat (or any call)
  std::string job_id;    // empty = idle
  int rank = -1;         // DP rank in job_id
  int attempt = 0;       // of job_id
  // False from the release of a job the worker had started until its next
  // GetAssignment: it may still be inside the old job, or dead. Only ready
  // idle workers are handed new work.
  bool ready = true;
  // The job it was last released from (for the history of a worker that
  // dies after its job went on without it).
  std::string last_job_id;
  int last_rank = -1, last_attempt = 0;
};

// "llm rank 1 (worker w-3, pid 4242)"
std::string DescribeWorker(const WorkerInfo& w);

struct WorkerCommand {
  Command command = Command::kNone;
  std::string job_id;  // the job a CANCEL_JOB is about
  std::string reason;
};

class WorkerTable {
 public:
  using Clock = std::function<double()>;  // monotonic seconds

  WorkerTable(double heartbeat_interval_seconds, double heartbeat_timeout_seconds, Clock clock = NowSeconds);
  // Worker ids are "<prefix><n>". A restarted orchestrator must not hand out
  // an id a worker of its previous run still uses: braid-orchestrator sets
  // a prefix unique to the run ("w-<start time>-").
  void set_id_prefix(std::string prefix);

  // FailedPrecondition "worker speaks protocol version X, orchestrator speaks
  // 1" when the version differs; InvalidArgument for a bad role or device
  // (device_match.h). Nothing is kept for a refused registration.
  StatusOr<WorkerInfo> Register(const WorkerRegistration& reg);
  // Liveness. Returns the next command for the worker: SHUTDOWN always; a
  // CANCEL_JOB only while the worker still says it works on that job
  // (current_job_id), else it is dropped. NotFound for an unknown (or
  // declared dead) worker: it must register again.
  StatusOr<WorkerCommand> Heartbeat(const std::string& worker_id, const std::string& current_job_id);
  // Counts as liveness, like a heartbeat (GetAssignment, ReportStep, ...).
  Status Touch(const std::string& worker_id);

  struct Poll {
    bool assigned = false;
    Assignment assignment;
    WorkerCommand command;  // e.g. SHUTDOWN while idle
  };
  // Long-poll: returns the undelivered assignment (once), or a SHUTDOWN
  // command, or nothing after wait_seconds. The worker is idle from its own
  // view, so queued CANCEL_JOB commands are dropped. NotFound if unknown.
  StatusOr<Poll> WaitForAssignment(const std::string& worker_id, double wait_seconds);

  // Workers not heard from for longer than the heartbeat timeout: removed
  // from the table and returned (each exactly once), busy ones included.
  std::vector<WorkerInfo> RemoveDead();

  // `device` "" = any device; else only workers registered with it.
  std::vector<WorkerInfo> Idle(Role role, const std::string& device = "") const;  // idle and ready, registration order
  int CountBusy(Role role, const std::string& device = "") const;  // in a job, or not ready yet
  std::vector<WorkerInfo> WorkersOf(const std::string& job_id) const;  // by role, then rank
  StatusOr<WorkerInfo> Get(const std::string& worker_id) const;

  // Gives an idle worker its part in a job. FailedPrecondition if it is busy.
  Status Assign(const std::string& worker_id, const Assignment& a);
  // The job's workers become idle; each but `except_worker_id` gets a queued
  // CANCEL_JOB when `cancel`. Returns the workers released.
  std::vector<WorkerInfo> ReleaseJob(const std::string& job_id, bool cancel, const std::string& reason,
                                     const std::string& except_worker_id = "");
  Status QueueCommand(const std::string& worker_id, const WorkerCommand& command);

  // Wakes every long-poll; later ones return at once with nothing.
  void Shutdown();

  double heartbeat_interval() const { return interval_; }
  double heartbeat_timeout() const { return timeout_; }

 private:
  struct Record {
    WorkerInfo info;
    std::optional<Assignment> undelivered;
    std::deque<WorkerCommand> commands;
  };
  Record* Find(const std::string& id);

  const double interval_, timeout_;
  const Clock clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Record> workers_;
  int64_t next_order_ = 1;
  std::string id_prefix_ = "w-";
  bool shutdown_ = false;
};

}  // namespace braid::orchestrator
