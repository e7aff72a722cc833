#include "services/orchestrator/job_table.h"

#include "common/base/clock.h"

#include <algorithm>
#include <ctime>
#include <filesystem>

#include "common/base/log.h"
#include "common/checkpoint/durable_file.h"

namespace braid::orchestrator {
namespace fs = std::filesystem;

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

void JobTable::Emit(Record& r, EventKind kind) {
  r.events.push_back({++seq_, kind, r.job});
  while (r.events.size() > kMaxEventsPerJob) r.events.pop_front();
  cv_.notify_all();
}

StatusOr<Job> JobTable::Submit(const std::string& yaml_text, const std::string& source_name) {
  // ParseJobConfig validates (the same checks as `braid train`).
  ASSIGN_OR_RETURN(JobConfig cfg, ParseJobConfig(yaml_text, source_name.empty() ? "<request>" : source_name));
  const std::string yaml = JobConfigToYaml(cfg);

  std::lock_guard<std::mutex> lock(mu_);
  const double now = clock_();
  fs::path parent(cfg.checkpoint.dir);
  if (!parent.is_absolute()) parent = fs::path(runs_root_.empty() ? "." : runs_root_) / parent;
  std::error_code ec;
  parent = fs::absolute(parent, ec).lexically_normal();
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
  for (const std::string& id : order_)
    if (jobs_.at(id).job.state == JobState::kPending) out.push_back(id);
  return out;
}

Status JobTable::SetPendingReason(const std::string& id, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  if (r->job.state != JobState::kPending) return Status::FailedPrecondition("job " + id + " is not PENDING");
  if (r->job.reason == reason) return Status::Ok();
  r->job.reason = reason;
  Emit(*r, EventKind::kStateChanged);
  return Status::Ok();
}

Status JobTable::MarkRunning(const std::string& id, const Layout& layout) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(id);
  if (!r) return Status::NotFound("no job '" + id + "'");
  if (r->job.state != JobState::kPending)
    return Status::FailedPrecondition("job " + id + " is " + JobStateName(r->job.state) + ", not PENDING");
  ApplyLayout(layout, &r->config);
  RETURN_IF_ERROR(WriteFileDurably((fs::path(r->job.run_dir) / "job.yaml").string(), JobConfigToYaml(r->config)));
  r->job.state = JobState::kRunning;
  r->job.reason.clear();
  r->job.layout = layout;
  r->job.started_unix = clock_();
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
