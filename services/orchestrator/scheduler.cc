#include "services/orchestrator/scheduler.h"

#include "common/base/log.h"
#include "common/config/job_config.h"
#include "services/orchestrator/device_match.h"

namespace braid::orchestrator {

Scheduler::Scheduler(JobTable* jobs, WorkerTable* workers, DataPlanner* planner, std::mutex* state_mu,
                     OnRunning on_running, AutoLayout auto_layout)
    : jobs_(jobs),
      workers_(workers),
      planner_(planner),
      state_mu_(state_mu),
      on_running_(std::move(on_running)),
      auto_layout_(std::move(auto_layout)) {}

bool Scheduler::PlanPendingAutoLayout() {
  std::string id;
  JobConfig cfg;
  std::array<int, 3> idle{};
  {
    std::lock_guard<std::mutex> lock(*state_mu_);
    const std::vector<std::string> pending = jobs_->PendingIds();
    if (pending.empty() || planned_.count(pending[0])) return false;
    auto c = jobs_->Config(pending[0]);
    if (!c.ok() || !c->parallel.auto_layout) return false;
    id = pending[0];
    cfg = *c;
    std::string missing;
    for (Role r : kRoles) {
      idle[RoleIndex(r)] = static_cast<int>(workers_->Idle(r, cfg.device).size());
      if (idle[RoleIndex(r)] == 0) missing += std::string(missing.empty() ? "" : ", ") + RoleName(r);
    }
    if (!missing.empty()) {
      (void)jobs_->SetPendingReason(id, "parallel: auto: waiting for at least one idle worker of: " + missing);
      return true;
    }
    (void)jobs_->SetPendingReason(id, "planning the layout (parallel: auto)");
  }
  StatusOr<Layout> l = auto_layout_(cfg, idle);
  std::lock_guard<std::mutex> lock(*state_mu_);
  if (!l.ok()) {
    LOG_ERROR("job %s: parallel: auto: %s", id.c_str(), l.status().ToString().c_str());
    (void)jobs_->MarkFinal(id, JobState::kFailed, "parallel: auto: " + l.status().ToString());
    return true;
  }
  LOG_INFO("job %s: planned layout encoder dp %d, llm dp %d, generator dp %d", id.c_str(), l->encoder.dp, l->llm.dp,
           l->generator.dp);
  planned_[id] = *l;
  return false;
}

std::string Scheduler::PendingReason(const Layout& layout, const std::vector<int>& idle_by_role,
                                     const std::vector<int>& busy_by_role) {
  struct Missing {
    int need, registered, busy;
    const char* role;
  };
  std::vector<Missing> missing;
  for (Role r : kRoles) {
    const int i = RoleIndex(r), need = layout.of(r).world();
    if (idle_by_role[i] < need) missing.push_back({need, idle_by_role[i] + busy_by_role[i], busy_by_role[i], RoleName(r)});
  }
  if (missing.empty()) return "";
  auto workers = [](const Missing& m) {
    return std::to_string(m.need) + " " + m.role + (m.need == 1 ? " worker" : " workers");
  };
  auto registered = [](const Missing& m) {
    return std::to_string(m.registered) + " registered" +
           (m.busy > 0 ? " (" + std::to_string(m.busy) + " busy)" : std::string());
  };
  if (missing.size() == 1) return "waiting for " + workers(missing[0]) + ", " + registered(missing[0]);
  std::string s = "waiting for ";
  for (size_t i = 0; i < missing.size(); ++i) {
    if (i) s += ", ";
    s += workers(missing[i]) + " (" + std::to_string(missing[i].registered) + " registered" +
         (missing[i].busy > 0 ? ", " + std::to_string(missing[i].busy) + " busy" : std::string()) + ")";
  }
  return s;
}

std::optional<StartedJob> Scheduler::RunOnce() {
  if (auto_layout_ && PlanPendingAutoLayout()) return std::nullopt;
  StartedJob plan;
  {
    std::lock_guard<std::mutex> lock(*state_mu_);
    const std::vector<std::string> pending = jobs_->PendingIds();
    if (pending.empty()) return std::nullopt;
    for (size_t i = 1; i < pending.size(); ++i)
      (void)jobs_->SetPendingReason(pending[i], "queued behind " + pending[0]);
    plan.job_id = pending[0];
    auto cfg = jobs_->Config(plan.job_id);
    if (!cfg.ok()) return std::nullopt;
    plan.layout = ResolveLayout(*cfg);
    if (auto pl = planned_.find(plan.job_id); pl != planned_.end()) plan.layout = pl->second;
    // Only workers of the job's device count (docs/GPU.md step 7).
    std::vector<int> idle(kRoles.size()), busy(kRoles.size());
    std::vector<std::vector<WorkerInfo>> idle_workers(kRoles.size());
    for (Role r : kRoles) {
      idle_workers[RoleIndex(r)] = workers_->Idle(r, cfg->device);
      idle[RoleIndex(r)] = static_cast<int>(idle_workers[RoleIndex(r)].size());
      busy[RoleIndex(r)] = workers_->CountBusy(r, cfg->device);
      const int elsewhere = static_cast<int>(workers_->Idle(r).size()) + workers_->CountBusy(r) - idle[RoleIndex(r)] -
                            busy[RoleIndex(r)];
      if (Status s = CheckDeviceAvailable(cfg->device, r, idle[RoleIndex(r)] + busy[RoleIndex(r)], elsewhere);
          !s.ok()) {
        LOG_ERROR("job %s: %s", plan.job_id.c_str(), s.message().c_str());
        (void)jobs_->MarkFinal(plan.job_id, JobState::kFailed, s.message());
        return std::nullopt;
      }
    }
    const std::string reason = PendingReason(plan.layout, idle, busy);
    if (!reason.empty()) {
      (void)jobs_->SetPendingReason(plan.job_id, reason);
      return std::nullopt;
    }
    (void)jobs_->SetPendingReason(plan.job_id, "starting: opening the job on the reorderer");
    const Job job = *jobs_->Get(plan.job_id);
    for (Role r : kRoles) {
      for (int rank = 0; rank < plan.layout.of(r).world(); ++rank) {
        Assignment a;
        a.job_id = plan.job_id;
        a.role = r;
        a.rank = rank;
        a.layout = plan.layout;
        // Each attempt rendezvouses under its own prefix: keys of a lost
        // attempt can never be read by the next one.
        a.attempt = job.attempt + 1;
        a.rendezvous_prefix = "job/" + plan.job_id + "/a" + std::to_string(a.attempt) + "/";
        a.run_dir = job.run_dir;
        a.start_step = job.resume_step;
        a.resume_checkpoint = job.resume_checkpoint;
        plan.assignments.push_back(a);
        plan.worker_ids.push_back(idle_workers[RoleIndex(r)][rank].id);
      }
    }
  }

  // The resolved spec the workers get carries the layout actually used.
  JobConfig resolved = *jobs_->Config(plan.job_id);
  ApplyLayout(plan.layout, &resolved);
  const std::string yaml = JobConfigToYaml(resolved);
  for (Assignment& a : plan.assignments) a.job_yaml = yaml;

  const Status opened = planner_->OpenJob(plan.job_id, yaml, plan.layout);

  std::lock_guard<std::mutex> lock(*state_mu_);
  if (opened.code() == StatusCode::kUnavailable || opened.code() == StatusCode::kDeadlineExceeded) {
    // The reorderer is down or restarting (its supervisor brings it back):
    // wait for it rather than fail the job.
    (void)jobs_->SetPendingReason(plan.job_id, "waiting for the reorderer: " + opened.message());
    return std::nullopt;
  }
  if (!opened.ok()) {
    const std::string msg = "reorderer could not open the job: " + opened.ToString();
    LOG_ERROR("job %s: %s", plan.job_id.c_str(), msg.c_str());
    (void)jobs_->MarkFinal(plan.job_id, JobState::kFailed, msg);
    return std::nullopt;
  }
  // Known once OpenJob reached the reorderer (it may come from an address file).
  for (Assignment& a : plan.assignments) a.reorderer_address = planner_->address();
  // Cancelled meanwhile, or a chosen worker died: give the reorderer its job back.
  bool workers_ok = true;
  for (const std::string& id : plan.worker_ids) {
    auto w = workers_->Get(id);
    workers_ok = workers_ok && w.ok() && w->job_id.empty();
  }
  if (!workers_ok || !jobs_->MarkRunning(plan.job_id, plan.layout).ok()) {
    planner_->CloseJob(plan.job_id);
    return std::nullopt;
  }
  if (on_running_) {
    if (Status st = on_running_(plan); !st.ok()) {
      (void)jobs_->MarkFinal(plan.job_id, JobState::kFailed, "cannot start the job: " + st.ToString());
      planner_->CloseJob(plan.job_id);
      return std::nullopt;
    }
  }
  for (size_t i = 0; i < plan.assignments.size(); ++i) {
    if (Status st = workers_->Assign(plan.worker_ids[i], plan.assignments[i]); !st.ok()) {
      (void)jobs_->MarkFinal(plan.job_id, JobState::kFailed, "cannot assign " + plan.worker_ids[i] + ": " + st.ToString());
      workers_->ReleaseJob(plan.job_id, true, "job failed");
      planner_->CloseJob(plan.job_id);
      return std::nullopt;
    }
  }
  LOG_INFO("job %s RUNNING: %s", plan.job_id.c_str(), LayoutToJson(plan.layout).dump().c_str());
  return plan;
}

}  // namespace braid::orchestrator
