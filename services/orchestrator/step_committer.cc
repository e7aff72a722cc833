#include "services/orchestrator/step_committer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/base/log.h"
#include "common/checkpoint/checkpoint.h"

namespace braid::orchestrator {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int ExpectedRanks(const Layout& l) { return l.encoder.dp + l.llm.dp + l.generator.dp; }

Status AppendLine(const fs::path& path, const std::string& line) {
  std::ofstream out(path, std::ios::app);
  out << line << "\n" << std::flush;
  if (!out) return Status::Unavailable("cannot append to " + path.string());
  return Status::Ok();
}

json LayoutJson(const Layout& l) {
  json j;
  for (Role r : kRoles) j[RoleName(r)] = {{"dp", l.of(r).dp}, {"tp", l.of(r).tp}, {"pp", l.of(r).pp}};
  return j;
}

}  // namespace

Status StepCommitter::StartJob(const CommitterJob& job) {
  if (jobs_.count(job.job_id)) return Status::AlreadyExists("step committer already tracks job " + job.job_id);
  for (const char* f : {"metrics.jsonl", "ledger.jsonl"}) {
    std::ofstream touch(fs::path(job.run_dir) / f, std::ios::app);
    if (!touch) return Status::Unavailable("cannot open " + (fs::path(job.run_dir) / f).string());
  }
  JobState js;
  js.job = job;
  js.next = job.start_step;
  jobs_.emplace(job.job_id, std::move(js));
  return Status::Ok();
}

void StepCommitter::EndJob(const std::string& job_id) { jobs_.erase(job_id); }

int64_t StepCommitter::next_step(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? -1 : it->second.next;
}

StatusOr<std::vector<StepCommit>> StepCommitter::Add(const StepReport& r) {
  auto it = jobs_.find(r.job_id);
  if (it == jobs_.end()) return Status::NotFound("no running job '" + r.job_id + "'");
  JobState& js = it->second;
  if (!ValidRole(static_cast<int>(r.role))) return Status::InvalidArgument("role: must be encoder, llm or generator");
  const int dp = js.job.layout.of(r.role).dp;
  if (r.rank < 0 || r.rank >= dp)
    return Status::InvalidArgument("rank: " + std::to_string(r.rank) + " is outside " + RoleName(r.role) +
                                   " dp " + std::to_string(dp));
  if (r.step >= js.job.total_steps)
    return Status::OutOfRange("step: " + std::to_string(r.step) + " is past the job's last step " +
                              std::to_string(js.job.total_steps - 1));
  std::vector<StepCommit> out;
  if (r.step < js.next) return out;  // a retry of a committed step
  js.pending[r.step][{static_cast<int>(r.role), r.rank}] = r;
  const int expected = ExpectedRanks(js.job.layout);
  while (true) {
    auto p = js.pending.find(js.next);
    if (p == js.pending.end() || static_cast<int>(p->second.size()) < expected) break;
    ASSIGN_OR_RETURN(StepCommit c, Commit(js, p->second));
    js.pending.erase(p);
    ++js.next;
    out.push_back(std::move(c));
  }
  return out;
}

StatusOr<StepCommit> StepCommitter::Commit(JobState& js, const std::map<std::pair<int, int>, StepReport>& reports) {
  const int64_t step = js.next;
  auto rank0 = [&](Role role) -> const StepReport& { return reports.at({static_cast<int>(role), 0}); };
  double text_sum = 0, gen_sum = 0, step_seconds = 0;
  int64_t text_total = 0, gen_total = 0, tokens = 0;
  for (const auto& [key, r] : reports) {
    if (r.role == Role::kLlm) {
      text_sum += r.text_loss_sum;
      tokens += r.tokens;
    }
    if (r.role == Role::kGenerator) gen_sum += r.gen_loss_sum;
    text_total = std::max(text_total, r.global_text_targets);
    gen_total = std::max(gen_total, r.global_gen_targets);
    step_seconds = std::max(step_seconds, r.step_seconds);
  }
  const StepReport& llm0 = rank0(Role::kLlm);
  StepCommit c;
  c.step = step;
  c.last = step + 1 == js.job.total_steps;
  StepMetrics& m = c.metrics;
  m.step = step;
  m.text_loss = text_total > 0 ? text_sum / double(text_total) : 0.0;
  m.gen_loss = gen_total > 0 ? gen_sum / double(gen_total) : 0.0;
  m.loss = m.text_loss + m.gen_loss;
  m.tokens = tokens;
  m.samples = static_cast<int64_t>(llm0.sample_ids.size());
  m.step_seconds = step_seconds;
  m.tokens_per_second = step_seconds > 0 ? double(tokens) / step_seconds : 0.0;

  json norms;
  for (Role role : kRoles) norms[RoleName(role)] = rank0(role).grad_norm;
  const json line = {{"step", step},           {"loss", m.loss},           {"text_loss", m.text_loss},
                     {"gen_loss", m.gen_loss}, {"tokens", tokens},         {"samples", m.samples},
                     {"gen_targets", gen_total}, {"text_tokens", text_total}, {"lr", llm0.lr},
                     {"grad_norm", norms},     {"step_seconds", step_seconds}};
  const fs::path run(js.job.run_dir);
  RETURN_IF_ERROR(AppendLine(run / "metrics.jsonl", line.dump()));
  RETURN_IF_ERROR(AppendLine(run / "ledger.jsonl", json{{"step", step}, {"samples", llm0.sample_ids}}.dump()));

  for (Role role : kRoles) {
    ModuleTimeline t;
    t.module = role;
    const int dp = js.job.layout.of(role).dp;
    for (int rank = 0; rank < dp; ++rank) {
      for (const Span& s : reports.at({static_cast<int>(role), rank}).spans) {
        switch (s.kind) {
          case SpanKind::kCompute:
          case SpanKind::kOptimizer: t.compute_seconds += s.seconds; break;
          case SpanKind::kRecvWait:
          case SpanKind::kAllreduce:
            t.communication_seconds += s.seconds;
            t.exposed_communication_seconds += s.seconds;
            break;
          case SpanKind::kSend: t.communication_seconds += s.seconds; break;
          case SpanKind::kUnspecified: break;
        }
      }
    }
    t.compute_seconds /= dp;
    t.communication_seconds /= dp;
    t.exposed_communication_seconds /= dp;
    c.timeline.push_back(t);
  }

  int wrote = 0;
  std::string missing;
  for (Role role : kRoles) {
    if (rank0(role).wrote_checkpoint) ++wrote;
    else missing += std::string(missing.empty() ? "" : ", ") + RoleName(role);
  }
  if (wrote == int(kRoles.size())) {
    const json extra = {{"next_step", step + 1},
                        {"job_yaml", js.job.job_yaml},
                        {"seed", js.job.seed},
                        {"data_cursor", {{"next_step", step + 1}, {"global_batch", js.job.global_batch}}},
                        {"layout", LayoutJson(js.job.layout)}};
    const std::string dir = (run / "checkpoints").string();
    if (Status st = FinalizeCheckpointDir(dir, step + 1, extra, js.job.checkpoint_keep); st.ok()) {
      c.checkpoint_dir = (run / "checkpoints" / ("step-" + std::to_string(step + 1))).string();
    } else {
      c.checkpoint_error = st.ToString();
    }
  } else if (wrote > 0) {
    c.checkpoint_error = "checkpoint step-" + std::to_string(step + 1) + " incomplete: rank 0 of " + missing +
                         " did not write its shard";
  }
  if (!c.checkpoint_error.empty()) LOG_ERROR("job %s: %s", js.job.job_id.c_str(), c.checkpoint_error.c_str());
  return c;
}

}  // namespace braid::orchestrator
