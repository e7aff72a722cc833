#include "services/orchestrator/orchestrator.h"

#include <filesystem>

#include "common/base/log.h"
#include "common/checkpoint/checkpoint.h"
#include "common/checkpoint/durable_file.h"
#include "services/orchestrator/device_match.h"

namespace braid::orchestrator {
namespace {

// Steps committed to a run dir (lines of its metrics.jsonl): a job's step
// is not saved on every commit, so after a restart this is where it was.
int64_t CommittedSteps(const std::string& run_dir) {
  StatusOr<std::string> text = ReadWholeFile(run_dir + "/metrics.jsonl");
  if (!text.ok()) return 0;
  int64_t n = 0;
  for (size_t i = 0; i < text->size(); ++i) n += (*text)[i] == '\n' && (i == 0 || (*text)[i - 1] != '\n');
  return n;
}

}  // namespace

Orchestrator::Orchestrator(const OrchestratorOptions& options, DataPlanner* planner, WorkerTable::Clock mono_clock,
                           JobTable::UnixClock unix_clock)
    : options_(options),
      planner_(planner),
      jobs_(options.runs_root, std::move(unix_clock)),
      workers_(options.heartbeat_interval_seconds, options.heartbeat_timeout_seconds, std::move(mono_clock)),
      scheduler_(&jobs_, &workers_, planner, &mu_, [this](const StartedJob& s) {
        // Under mu_ (the scheduler holds it).
        auto cfg = jobs_.Config(s.job_id);
        auto job = jobs_.Get(s.job_id);
        if (!cfg.ok()) return cfg.status();
        if (!job.ok()) return job.status();
        CommitterJob cj;
        cj.job_id = s.job_id;
        cj.run_dir = job->run_dir;
        cj.layout = s.layout;
        cj.total_steps = cfg->train.steps;
        cj.start_step = job->resume_step;
        cj.checkpoint_keep = cfg->checkpoint.keep;
        cj.job_yaml = s.assignments.empty() ? "" : s.assignments[0].job_yaml;
        cj.seed = cfg->seed;
        cj.global_batch = cfg->train.global_batch;
        RETURN_IF_ERROR(committer_.StartJob(cj));
        active_.insert(s.job_id);
        return Status::Ok();
      }, options.auto_layout) {}

StatusOr<Job> Orchestrator::SubmitJob(const std::string& yaml, const std::string& source_name) {
  // A spec that does not parse is refused by jobs_.Submit, with its message.
  if (StatusOr<JobConfig> cfg = ParseJobConfig(yaml, source_name.empty() ? "<request>" : source_name); cfg.ok()) {
    RETURN_IF_ERROR(CheckRegisteredDevices(*cfg));
  }
  return jobs_.Submit(yaml, source_name);
}

Status Orchestrator::CheckRegisteredDevices(const JobConfig& cfg) const {
  for (Role r : kRoles) {
    const int on_device = static_cast<int>(workers_.Idle(r, cfg.device).size()) + workers_.CountBusy(r, cfg.device);
    const int all = static_cast<int>(workers_.Idle(r).size()) + workers_.CountBusy(r);
    RETURN_IF_ERROR(CheckDeviceAvailable(cfg.device, r, on_device, all - on_device));
  }
  return Status::Ok();
}

StatusOr<Job> Orchestrator::CancelJob(const std::string& id, const std::string& reason) {
  StatusOr<Job> job = Status::Internal("unreached");
  {
    std::lock_guard<std::mutex> lock(mu_);
    job = jobs_.Cancel(id, reason);
    if (job.ok()) CleanupLocked(id, /*cancel_workers=*/true, "");
  }
  CloseOnPlanner();
  return job;
}

StatusOr<WorkerInfo> Orchestrator::RegisterWorker(const WorkerRegistration& reg) { return workers_.Register(reg); }

StatusOr<WorkerCommand> Orchestrator::Heartbeat(const std::string& worker_id, const std::string& job_id,
                                                int64_t /*step*/) {
  return workers_.Heartbeat(worker_id, job_id);
}

StatusOr<WorkerTable::Poll> Orchestrator::GetAssignment(const std::string& worker_id, double wait_seconds) {
  return workers_.WaitForAssignment(worker_id, wait_seconds);
}

StatusOr<Command> Orchestrator::ReportStep(const StepReport& r) {
  RETURN_IF_ERROR(workers_.Touch(r.worker_id));
  ASSIGN_OR_RETURN(Job job, jobs_.Get(r.job_id));
  if (IsFinal(job.state)) return job.state == JobState::kSucceeded ? Command::kNone : Command::kCancelJob;
  // A rank of a lost attempt that has not noticed yet.
  if (job.state != JobState::kRunning || (r.attempt != 0 && r.attempt != job.attempt)) return Command::kCancelJob;
  ASSIGN_OR_RETURN(WorkerInfo w, workers_.Get(r.worker_id));
  if (w.job_id != r.job_id || w.reg.role != r.role || w.rank != r.rank)
    return Status::InvalidArgument("worker " + r.worker_id + " reports " + RoleName(r.role) + " rank " +
                                   std::to_string(r.rank) + " of job " + r.job_id + " but is assigned " +
                                   (w.job_id.empty() ? std::string("no job") : DescribeWorker(w) + " of job " + w.job_id));
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::vector<StepCommit> commits, committer_.Add(r));
  for (const StepCommit& c : commits) {
    (void)jobs_.RecordStep(r.job_id, c.metrics, c.timeline);
    if (options_.on_commit) {
      auto job = jobs_.Get(r.job_id);
      auto cfg = jobs_.Config(r.job_id);
      if (job.ok() && cfg.ok()) options_.on_commit(*job, *cfg, c);
    }
    if (!c.checkpoint_dir.empty()) LOG_INFO("job %s: checkpoint %s", r.job_id.c_str(), c.checkpoint_dir.c_str());
    if (c.last) MaybeSucceedLocked(r.job_id);
  }
  return Command::kNone;
}

Status Orchestrator::ReportFailure(const std::string& worker_id, const std::string& job_id,
                                   const std::string& message, int attempt) {
  ASSIGN_OR_RETURN(WorkerInfo w, workers_.Get(worker_id));
  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Job job, jobs_.Get(job_id));
    if (attempt != 0 && attempt != job.attempt) return Status::Ok();  // an older attempt's: already handled
    if (w.job_id != job_id) return Status::FailedPrecondition("worker " + worker_id + " is not in job " + job_id);
    if (job.state == JobState::kRunning) LoseRankLocked(job_id, DescribeWorker(w) + " failed", message, worker_id);
  }
  CloseOnPlanner();
  return Status::Ok();
}

Status Orchestrator::ReportDone(const std::string& worker_id, const std::string& job_id, int attempt) {
  ASSIGN_OR_RETURN(WorkerInfo w, workers_.Get(worker_id));
  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Job job, jobs_.Get(job_id));
    if (attempt != 0 && attempt != job.attempt) return Status::Ok();
    if (w.job_id != job_id) return Status::FailedPrecondition("worker " + worker_id + " is not in job " + job_id);
    done_[job_id].insert(worker_id);
    MaybeSucceedLocked(job_id);
  }
  CloseOnPlanner();
  return Status::Ok();
}

StatusOr<ResumePoint> Orchestrator::PrepareResumeLocked(const Job& job) {
  namespace fs = std::filesystem;
  // The newest checkpoint of this run that verifies; without one, where
  // the job started (step 0, or checkpoint.resume_from).
  const fs::path ckpts = fs::path(job.run_dir) / "checkpoints";
  StatusOr<ResumePoint> found = FindResumePoint(ckpts.string());
  ResumePoint at = found.ok() ? *found : ResumePoint{job.initial_checkpoint, job.initial_step, {}};
  for (const std::string& s : at.skipped) (void)jobs_.AddHistory(job.id, "corrupt checkpoint skipped: " + s);
  // Drop what was committed after the resume point, and half-written
  // checkpoint dirs.
  for (const char* f : {"metrics.jsonl", "ledger.jsonl", "timeline.jsonl"}) {
    if (Status st = RewindJsonl((fs::path(job.run_dir) / f).string(), at.step); !st.ok())
      return Status(st.code(), "cannot rewind the run to step " + std::to_string(at.step) + ": " + st.message());
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(ckpts, ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("step-") && name.find(".tmp") != std::string::npos) fs::remove_all(e.path(), ec);
  }
  return at;
}

void Orchestrator::LoseRankLocked(const std::string& job_id, const std::string& what, const std::string& cause,
                                  const std::string& except_worker_id) {
  auto job = jobs_.Get(job_id);
  if (!job.ok() || job->state != JobState::kRunning) return;
  const std::string loss = what + " at step " + std::to_string(job->step) + " (" + cause + ")";
  auto fail = [&](const std::string& reason) {
    LOG_ERROR("job %s FAILED: %s", job_id.c_str(), reason.c_str());
    FinishLocked(job_id, JobState::kFailed, reason, except_worker_id);
  };
  if (job->restarts >= job->max_restarts)
    return fail(loss + "; no restarts left (reliability.max_restarts " + std::to_string(job->max_restarts) + ")");
  StatusOr<ResumePoint> at = PrepareResumeLocked(*job);
  if (!at.ok()) return fail(loss + "; " + at.status().message());
  LOG_WARN("job %s RECOVERING: %s, resuming from step %lld (restart %d of %d)", job_id.c_str(), loss.c_str(),
           (long long)at->step, job->restarts + 1, job->max_restarts);
  (void)jobs_.MarkRecovering(job_id, loss, at->step, at->dir);
  CleanupLocked(job_id, /*cancel_workers=*/true, except_worker_id);
  if (options_.on_recovery) {
    if (auto j = jobs_.Get(job_id); j.ok()) options_.on_recovery(*j);
  }
}

Status Orchestrator::RestoreJobs(JobStore* store) {
  ASSIGN_OR_RETURN(std::vector<StoredJob> stored, store->LoadAll());
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.AttachStore(store);
  for (const StoredJob& s : stored) {
    if (Status st = jobs_.Restore(s); !st.ok()) {
      LOG_ERROR("job store %s: job %s: %s", store->path().c_str(), s.job.id.c_str(), st.ToString().c_str());
      continue;
    }
    if (s.job.state != JobState::kRunning && s.job.state != JobState::kRecovering) continue;
    // Its workers were this orchestrator's: they register again; the job
    // resumes from its newest good checkpoint like after a lost rank.
    const std::string loss = "orchestrator restarted at step " + std::to_string(CommittedSteps(s.job.run_dir));
    StatusOr<ResumePoint> at = PrepareResumeLocked(s.job);
    if (!at.ok()) {
      (void)jobs_.MarkFinal(s.job.id, JobState::kFailed, loss + "; " + at.status().message());
      continue;
    }
    (void)jobs_.MarkRecovering(s.job.id, loss, at->step, at->dir);
    LOG_WARN("job %s RECOVERING: %s, resuming from step %lld", s.job.id.c_str(), loss.c_str(), (long long)at->step);
  }
  LOG_INFO("job store %s: %zu jobs restored", store->path().c_str(), stored.size());
  return Status::Ok();
}

void Orchestrator::MaybeSucceedLocked(const std::string& job_id) {
  auto job = jobs_.Get(job_id);
  if (!job.ok() || job->state != JobState::kRunning) return;
  if (committer_.next_step(job_id) < job->total_steps) return;
  const size_t ranks = static_cast<size_t>(job->layout.encoder.world() + job->layout.llm.world() + job->layout.generator.world());
  if (done_[job_id].size() < ranks) return;
  LOG_INFO("job %s SUCCEEDED after %lld steps", job_id.c_str(), (long long)job->step);
  FinishLocked(job_id, JobState::kSucceeded, "", "");
}

void Orchestrator::FinishLocked(const std::string& job_id, JobState state, const std::string& reason,
                                const std::string& except_worker_id) {
  (void)jobs_.MarkFinal(job_id, state, reason);
  CleanupLocked(job_id, state != JobState::kSucceeded, except_worker_id);
}

void Orchestrator::CleanupLocked(const std::string& job_id, bool cancel_workers, const std::string& except_worker_id) {
  workers_.ReleaseJob(job_id, cancel_workers, cancel_workers ? "job " + job_id + " is over" : "", except_worker_id);
  rendezvous_.DropPrefix("job/" + job_id + "/");
  committer_.EndJob(job_id);
  done_.erase(job_id);
  if (active_.erase(job_id)) to_close_.push_back(job_id);
}

void Orchestrator::CloseOnPlanner() {
  std::lock_guard<std::mutex> order(close_mu_);
  std::vector<std::string> close;
  {
    std::lock_guard<std::mutex> lock(mu_);
    close.swap(to_close_);
  }
  for (const std::string& id : close) planner_->CloseJob(id);
}

void Orchestrator::Tick() {
  for (const WorkerInfo& w : workers_.RemoveDead()) {
    std::lock_guard<std::mutex> lock(mu_);
    LOG_WARN("worker %s stopped sending heartbeats", DescribeWorker(w).c_str());
    if (options_.on_worker_lost) options_.on_worker_lost(w);
    if (!w.job_id.empty()) {
      LoseRankLocked(w.job_id, DescribeWorker(w) + " lost", "stopped sending heartbeats", w.id);
    } else if (!w.last_job_id.empty()) {
      // Its job already went on without it (a peer reported the failure
      // first): say which rank it was.
      auto job = jobs_.Get(w.last_job_id);
      WorkerInfo was = w;
      was.rank = w.last_rank;
      if (job.ok() && !IsFinal(job->state))
        (void)jobs_.AddHistory(w.last_job_id, DescribeWorker(was) + " of attempt " +
                                                  std::to_string(w.last_attempt) + " stopped sending heartbeats");
    }
  }
  {
    // Jobs that turned final behind our back (e.g. the scheduler failed one).
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> active(active_.begin(), active_.end());
    for (const std::string& id : active) {
      auto job = jobs_.Get(id);
      if (job.ok() && IsFinal(job->state)) CleanupLocked(id, job->state != JobState::kSucceeded, "");
    }
  }
  CloseOnPlanner();
  scheduler_.RunOnce();
}

void Orchestrator::Shutdown() {
  jobs_.Shutdown();
  workers_.Shutdown();
  rendezvous_.Shutdown();
}

}  // namespace braid::orchestrator
