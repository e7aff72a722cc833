#include "services/orchestrator/job_table.h"

#include "common/base/clock.h"

#include <algorithm>
#include <ctime>
#include <filesystem>

#include "common/base/log.h"
#include "common/checkpoint/checkpoint.h"
#include "common/checkpoint/durable_file.h"

namespace braid::orchestrator {
namespace fs = std::filesystem;

namespace {

// The runs root ("" = the working directory), absolute with symlinks resolved.
fs::path CanonicalRoot(const std::string& runs_root) {
  std::error_code ec;
  return fs::weakly_canonical(fs::absolute(runs_root.empty() ? "." : runs_root, ec), ec);
}

// checkpoint.resume_from, relative to the runs root.
StatusOr<ResumePoint> FindResumePoint(const std::string& resume_from, const fs::path& root) {
  fs::path p(resume_from);
  if (!p.is_absolute()) p = root / p;
  StatusOr<ResumePoint> r = braid::FindResumePoint(p.lexically_normal().string());
  if (!r.ok()) return Status::InvalidArgument("checkpoint.resume_from: " + r.status().message());
  return r;
}

}  // namespace

JobTable::JobTable(std::string runs_root, UnixClock unix_clock)
    : runs_root_(std::move(runs_root)), clock_(std::move(unix_clock)) {}

JobTable::Record* JobTable::Find(const std::string& id) {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}
const JobTable::Record* JobTable::Find(const std::string& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

void JobTable::AttachStore(JobStore* store) {
  std::lock_guard<std::mutex> lock(mu_);
  store_ = store;
}

Status JobTable::Persist(const Record& r) {
  if (!store_) return Status::Ok();
  Status st = store_->Put(r.job, JobConfigToYaml(r.config));
  if (!st.ok()) LOG_ERROR("%s", st.ToString().c_str());
  return st;
}

Status JobTable::Restore(const StoredJob& stored) {
  StatusOr<JobConfig> cfg = ParseJobConfig(stored.config_yaml, "stored spec of job " + stored.job.id);
  if (!cfg.ok()) return cfg.status();
  std::lock_guard<std::mutex> lock(mu_);
  if (jobs_.count(stored.job.id)) return Status::AlreadyExists("job " + stored.job.id + " is already known");
  Record r;
  r.job = stored.job;
  r.config = std::move(*cfg);
  if (r.job.state == JobState::kRecovering) r.loss = r.job.reason;
  Record& in = jobs_.emplace(r.job.id, std::move(r)).first->second;
  order_.push_back(in.job.id);
  Emit(in, EventKind::kStateChanged);
  return Status::Ok();
}

void JobTable::Emit(Record& r, EventKind kind) {
  r.events.push_back({++seq_, kind, r.job});
  while (r.events.size() > kMaxEventsPerJob) r.events.pop_front();
  cv_.notify_all();
}

StatusOr<Job> JobTable::Submit(const std::string& yaml_text, const std::string& source_name) {
  // ParseJobConfig validates (the same checks as `braid train`).
  ASSIGN_OR_RETURN(JobConfig cfg, ParseJobConfig(yaml_text, source_name.empty() ? "<request>" : source_name));
  RETURN_IF_ERROR(RuntimeSupportsLayout(cfg));
  const std::string yaml = JobConfigToYaml(cfg);
  ResumePoint resume;
  if (!cfg.checkpoint.resume_from.empty()) {
    ASSIGN_OR_RETURN(resume, FindResumePoint(cfg.checkpoint.resume_from, CanonicalRoot(runs_root_)));
    if (resume.step >= cfg.train.steps)
      return Status::InvalidArgument("checkpoint.resume_from: " + resume.dir + " is at step " +
                                     std::to_string(resume.step) + ", not before train.steps " +
                                     std::to_string(cfg.train.steps));
  }

  std::lock_guard<std::mutex> lock(mu_);
  const double now = clock_();
  // Run dirs stay inside the runs root: a spec cannot make the orchestrator
  // write anywhere else (checkpoint.dir "../x", an absolute path elsewhere,
  // or a symlink out of the root).
  std::error_code ec;
  const fs::path root = CanonicalRoot(runs_root_);
  fs::path parent(cfg.checkpoint.dir);
  if (!parent.is_absolute()) parent = root / parent;
  parent = fs::weakly_canonical(parent.lexically_normal(), ec);
  const fs::path inside = parent.lexically_relative(root);
  if (ec || inside.empty() || *inside.begin() == "..")
    return Status::InvalidArgument("checkpoint.dir: " + parent.string() + " is outside the runs root " +
                                   root.string() + " (the orchestrator's --runs-root)");
  fs::create_directories(parent, ec);
  if (ec) return Status::Unavailable("cannot create run directory parent " + parent.string() + ": " + ec.message());

  const std::string base = cfg.name + "-" + LocalTimestamp(now);
  std::string id;
  fs::path run_dir;
  for (int n = 1;; ++n) {
    id = n == 1 ? base : base + "-" + std::to_string(n);
    run_dir = parent / id;
    if (jobs_.count(id)) continue;
    if (fs::create_directory(run_dir, ec)) break;  // false: it exists (an earlier orchestrator's job)
    if (ec) return Status::Unavailable("cannot create run directory " + run_dir.string() + ": " + ec.message());
  }
  if (Status st = WriteFileDurably((run_dir / "job.yaml").string(), yaml); !st.ok()) {
    fs::remove_all(run_dir, ec);
    return st;
  }

  Record r;
  r.config = std::move(cfg);
  r.job.id = id;
  r.job.name = r.config.name;
  r.job.state = JobState::kPending;
  r.job.reason = "queued";
  r.job.layout = ResolveLayout(r.config);
  r.job.total_steps = r.config.train.steps;
  r.job.run_dir = run_dir.string();
  r.job.submitted_unix = now;
  r.job.max_restarts = r.config.reliability.max_restarts;
  r.job.resume_step = resume.step;
  r.job.resume_checkpoint = resume.dir;
  r.job.initial_step = resume.step;
  r.job.initial_checkpoint = resume.dir;
  if (!resume.dir.empty())
    r.job.history.push_back({now, "starts from checkpoint " + resume.dir + " at step " + std::to_string(resume.step)});
  if (Status st = Persist(r); !st.ok()) {
    fs::remove_all(run_dir, ec);
    return st;
  }
  Record& stored = jobs_.emplace(id, std::move(r)).first->second;
  order_.push_back(id);
  Emit(stored, EventKind::kStateChanged);
  LOG_INFO("job %s submitted, run dir %s", id.c_str(), stored.job.run_dir.c_str());
  return stored.job;
}

StatusOr<Job> JobTable::Get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  return r->job;
}

std::vector<Job> JobTable::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Job> out;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) out.push_back(jobs_.at(*it).job);
  return out;
}

StatusOr<Job> JobTable::Cancel(const std::string& id, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  if (IsFinal(r->job.state))
    return Status::FailedPrecondition("job " + id + " is already " + JobStateName(r->job.state));
  r->job.state = JobState::kCancelled;
  r->job.reason = reason.empty() ? "cancelled by user" : "cancelled: " + reason;
  r->job.finished_unix = clock_();
  r->job.eta_seconds = 0;
  (void)Persist(*r);
  Emit(*r, EventKind::kStateChanged);
  return r->job;
}

StatusOr<JobConfig> JobTable::Config(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  return r->config;
}

std::vector<std::string> JobTable::PendingIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const std::string& id : order_) {
    const JobState st = jobs_.at(id).job.state;
    if (st == JobState::kPending || st == JobState::kRecovering) out.push_back(id);
  }
  return out;
}

Status JobTable::SetPendingReason(const std::string& id, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  const JobState st = r->job.state;
  if (st != JobState::kPending && st != JobState::kRecovering)
    return Status::FailedPrecondition("job " + id + " is not PENDING or RECOVERING");
  const std::string text = st == JobState::kRecovering ? r->loss + "; " + reason : reason;
  if (r->job.reason == text) return Status::Ok();
  r->job.reason = text;
  Emit(*r, EventKind::kStateChanged);
  return Status::Ok();
}

StatusOr<int> JobTable::MarkRunning(const std::string& id, const Layout& layout) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  const bool recovering = r->job.state == JobState::kRecovering;
  if (r->job.state != JobState::kPending && !recovering)
    return Status::FailedPrecondition("job " + id + " is " + JobStateName(r->job.state) + ", not PENDING");
  ApplyLayout(layout, &r->config);
  RETURN_IF_ERROR(WriteFileDurably((fs::path(r->job.run_dir) / "job.yaml").string(), JobConfigToYaml(r->config)));
  r->job.state = JobState::kRunning;
  r->job.reason.clear();
  r->job.layout = layout;
  ++r->job.attempt;
  if (r->job.started_unix == 0) r->job.started_unix = clock_();
  if (recovering)
    r->job.history.push_back({clock_(), "attempt " + std::to_string(r->job.attempt) + " running from step " +
                                            std::to_string(r->job.resume_step)});
  (void)Persist(*r);
  Emit(*r, EventKind::kStateChanged);
  return r->job.attempt;
}

Status JobTable::MarkRecovering(const std::string& id, const std::string& loss, int64_t resume_step,
                                const std::string& resume_checkpoint) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  if (r->job.state != JobState::kRunning && r->job.state != JobState::kRecovering)
    return Status::FailedPrecondition("job " + id + " is " + JobStateName(r->job.state) + ", not RUNNING");
  r->loss = loss + ", resuming from step " + std::to_string(resume_step);
  r->job.state = JobState::kRecovering;
  r->job.reason = r->loss;
  r->job.step = resume_step;
  r->job.resume_step = resume_step;
  r->job.resume_checkpoint = resume_checkpoint;
  ++r->job.restarts;
  r->job.eta_seconds = 0;
  r->job.history.push_back({clock_(), r->loss});
  (void)Persist(*r);
  Emit(*r, EventKind::kStateChanged);
  return Status::Ok();
}

Status JobTable::AddHistory(const std::string& id, const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  r->job.history.push_back({clock_(), text});
  while (r->job.history.size() > kMaxHistory) r->job.history.erase(r->job.history.begin());
  (void)Persist(*r);
  Emit(*r, EventKind::kStateChanged);
  return Status::Ok();
}

Status JobTable::MarkFinal(const std::string& id, JobState state, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  if (!IsFinal(state)) return Status::InvalidArgument(std::string("MarkFinal: ") + JobStateName(state) + " is not final");
  if (IsFinal(r->job.state))
    return Status::FailedPrecondition("job " + id + " is already " + JobStateName(r->job.state));
  r->job.state = state;
  r->job.reason = reason;
  r->job.finished_unix = clock_();
  r->job.eta_seconds = 0;
  if (state == JobState::kFailed) r->job.history.push_back({r->job.finished_unix, reason});
  (void)Persist(*r);
  Emit(*r, EventKind::kStateChanged);
  return Status::Ok();
}

Status JobTable::RecordStep(const std::string& id, const StepMetrics& metrics,
                            const std::vector<ModuleTimeline>& timeline) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  Job& j = r->job;
  j.step = metrics.step + 1;
  j.has_last = true;
  j.last = metrics;
  j.timeline = timeline;
  // ETA from the mean wall time per committed step since the job started.
  const double elapsed = clock_() - j.started_unix;
  j.eta_seconds = j.step > 0 && elapsed > 0 ? elapsed / double(j.step) * double(std::max<int64_t>(0, j.total_steps - j.step)) : 0;
  Emit(*r, EventKind::kStepCommitted);
  return Status::Ok();
}

StatusOr<JobTable::Event> JobTable::Snapshot(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  return Event{seq_, EventKind::kSnapshot, r->job};
}

StatusOr<std::vector<JobTable::Event>> JobTable::WaitEvents(const std::string& id, int64_t after_seq,
                                                            double timeout_seconds) const {
  std::unique_lock<std::mutex> lock(mu_);
  const Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  auto ready = [&] { return shutdown_ || (!r->events.empty() && r->events.back().seq > after_seq); };
  cv_.wait_for(lock, std::chrono::duration<double>(std::max(0.0, timeout_seconds)), ready);
  std::vector<Event> out;
  if (shutdown_) return out;
  for (const Event& e : r->events)
    if (e.seq > after_seq) out.push_back(e);
  return out;
}

bool JobTable::shutting_down() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shutdown_;
}

void JobTable::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

}  // namespace braid::orchestrator
