#include "services/orchestrator/worker_table.h"

#include <algorithm>

#include "common/base/log.h"
#include "services/orchestrator/device_match.h"

namespace braid::orchestrator {

std::string DescribeWorker(const WorkerInfo& w) {
  std::string s = RoleName(w.reg.role);
  if (w.rank >= 0) s += " rank " + std::to_string(w.rank);
  return s + " (worker " + w.id + ", pid " + std::to_string(w.reg.pid) + ")";
}

WorkerTable::WorkerTable(double heartbeat_interval_seconds, double heartbeat_timeout_seconds, Clock clock)
    : interval_(heartbeat_interval_seconds), timeout_(heartbeat_timeout_seconds), clock_(std::move(clock)) {}

WorkerTable::Record* WorkerTable::Find(const std::string& id) {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

StatusOr<WorkerInfo> WorkerTable::Register(const WorkerRegistration& reg) {
  if (reg.protocol_version != kProtocolVersion)
    return Status::FailedPrecondition("worker speaks protocol version " + std::to_string(reg.protocol_version) +
                                      ", orchestrator speaks " + std::to_string(kProtocolVersion));
  if (!ValidRole(static_cast<int>(reg.role)))
    return Status::InvalidArgument("role: must be encoder, llm or generator");
  RETURN_IF_ERROR(ValidateWorkerDevice(reg.device, reg.device_index));
  std::lock_guard<std::mutex> lock(mu_);
  Record r;
  r.info.order = next_order_++;
  r.info.id = id_prefix_ + std::to_string(r.info.order);
  r.info.reg = reg;
  r.info.reg.device = NormalizeDevice(reg.device);
  r.info.last_seen = clock_();
  const std::string device =
      r.info.reg.device == "cuda" ? "cuda:" + std::to_string(reg.device_index) : r.info.reg.device;
  LOG_INFO("registered %s worker %s (host %s, pid %d, %s%s%s)", RoleName(reg.role), r.info.id.c_str(),
           reg.host.c_str(), reg.pid, device.c_str(), reg.name.empty() ? "" : ", name ", reg.name.c_str());
  return workers_.emplace(r.info.id, std::move(r)).first->second.info;
}

StatusOr<WorkerCommand> WorkerTable::Heartbeat(const std::string& worker_id, const std::string& current_job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(worker_id);
  if (!r) return Status::NotFound("unknown worker '" + worker_id + "' (declared dead or never registered): register again");
  r->info.last_seen = clock_();
  while (!r->commands.empty()) {
    WorkerCommand c = r->commands.front();
    r->commands.pop_front();
    if (c.command == Command::kCancelJob && (current_job_id.empty() || c.job_id != current_job_id)) continue;
    return c;
  }
  return WorkerCommand{};
}

Status WorkerTable::Touch(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(worker_id);
  if (!r) return Status::NotFound("unknown worker '" + worker_id + "' (declared dead or never registered): register again");
  r->info.last_seen = clock_();
  return Status::Ok();
}

StatusOr<WorkerTable::Poll> WorkerTable::WaitForAssignment(const std::string& worker_id, double wait_seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  Record* r = Find(worker_id);
  if (!r) return Status::NotFound("unknown worker '" + worker_id + "' (declared dead or never registered): register again");
  r->info.last_seen = clock_();
  auto has_shutdown = [&] {
    return std::any_of(r->commands.begin(), r->commands.end(),
                       [](const WorkerCommand& c) { return c.command == Command::kShutdown; });
  };
  std::erase_if(r->commands, [](const WorkerCommand& c) { return c.command == Command::kCancelJob; });
  if (r->info.job_id.empty()) r->info.ready = true;  // out of any old job, alive
  cv_.wait_for(lock, std::chrono::duration<double>(std::max(0.0, wait_seconds)), [&] {
    r = Find(worker_id);  // RemoveDead may have dropped it meanwhile
    return shutdown_ || !r || r->undelivered.has_value() || has_shutdown();
  });
  Poll p;
  if (!r) return Status::NotFound("worker '" + worker_id + "' was declared dead: register again");
  r->info.last_seen = clock_();
  if (r->undelivered) {
    p.assigned = true;
    p.assignment = std::move(*r->undelivered);
    r->undelivered.reset();
  } else if (has_shutdown()) {
    p.command = WorkerCommand{Command::kShutdown, "", "orchestrator asked the worker to shut down"};
    std::erase_if(r->commands, [](const WorkerCommand& c) { return c.command == Command::kShutdown; });
  }
  return p;
}

void WorkerTable::set_id_prefix(std::string prefix) {
  std::lock_guard<std::mutex> lock(mu_);
  id_prefix_ = std::move(prefix);
}

std::vector<WorkerInfo> WorkerTable::RemoveDead() {
  std::vector<WorkerInfo> dead;
  std::lock_guard<std::mutex> lock(mu_);
  const double now = clock_();
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (now - it->second.info.last_seen > timeout_) {
      dead.push_back(it->second.info);
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  if (!dead.empty()) cv_.notify_all();
  std::sort(dead.begin(), dead.end(), [](const WorkerInfo& a, const WorkerInfo& b) { return a.order < b.order; });
  return dead;
}

std::vector<WorkerInfo> WorkerTable::Idle(Role role, const std::string& device) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<WorkerInfo> out;
  for (const auto& [id, r] : workers_)
    if (r.info.reg.role == role && (device.empty() || r.info.reg.device == device) && r.info.job_id.empty() &&
        r.info.ready)
      out.push_back(r.info);
  std::sort(out.begin(), out.end(), [](const WorkerInfo& a, const WorkerInfo& b) { return a.order < b.order; });
  return out;
}

int WorkerTable::CountBusy(Role role, const std::string& device) const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& [id, r] : workers_)
    n += r.info.reg.role == role && (device.empty() || r.info.reg.device == device) &&
         (!r.info.job_id.empty() || !r.info.ready);
  return n;
}

std::vector<WorkerInfo> WorkerTable::WorkersOf(const std::string& job_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<WorkerInfo> out;
  for (const auto& [id, r] : workers_)
    if (!job_id.empty() && r.info.job_id == job_id) out.push_back(r.info);
  std::sort(out.begin(), out.end(), [](const WorkerInfo& a, const WorkerInfo& b) {
    return a.reg.role != b.reg.role ? a.reg.role < b.reg.role : a.rank < b.rank;
  });
  return out;
}

StatusOr<WorkerInfo> WorkerTable::Get(const std::string& worker_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return Status::NotFound("unknown worker '" + worker_id + "'");
  return it->second.info;
}

Status WorkerTable::Assign(const std::string& worker_id, const Assignment& a) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(worker_id);
  if (!r) return Status::NotFound("unknown worker '" + worker_id + "'");
  if (!r->info.job_id.empty())
    return Status::FailedPrecondition("worker " + worker_id + " is busy with job " + r->info.job_id);
  r->info.job_id = a.job_id;
  r->info.rank = a.rank;
  r->info.attempt = a.attempt;
  r->undelivered = a;
  cv_.notify_all();
  return Status::Ok();
}

std::vector<WorkerInfo> WorkerTable::ReleaseJob(const std::string& job_id, bool cancel, const std::string& reason,
                                                const std::string& except_worker_id) {
  std::vector<WorkerInfo> released;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, r] : workers_) {
    if (job_id.empty() || r.info.job_id != job_id) continue;
    released.push_back(r.info);
    // Not yet picked up: the worker never started, nothing to cancel.
    const bool started = !r.undelivered.has_value();
    r.undelivered.reset();
    if (cancel && started && id != except_worker_id) r.commands.push_back({Command::kCancelJob, job_id, reason});
    if (started) r.info.ready = false;
    r.info.last_job_id = job_id;
    r.info.last_rank = r.info.rank;
    r.info.last_attempt = r.info.attempt;
    r.info.job_id.clear();
    r.info.rank = -1;
  }
  return released;
}

Status WorkerTable::QueueCommand(const std::string& worker_id, const WorkerCommand& command) {
  std::lock_guard<std::mutex> lock(mu_);
  Record* r = Find(worker_id);
  if (!r) return Status::NotFound("unknown worker '" + worker_id + "'");
  r->commands.push_back(command);
  cv_.notify_all();
  return Status::Ok();
}

void WorkerTable::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

}  // namespace braid::orchestrator
