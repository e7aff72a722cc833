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

int ExpectedRanks(const Layout& l) { return l.encoder.world() + l.llm.world() + l.generator.world(); }

Status AppendLine(const fs::path& path, const std::string& line) {
  std::ofstream out(path, std::ios::app);
  out << line << "\n" << std::flush;
  if (!out) return Status::Unavailable("cannot append to " + path.string());
  return Status::Ok();
}

const char* SpanKindName(SpanKind k) {
  switch (k) {
    case SpanKind::kCompute: return "compute";
    case SpanKind::kSend: return "send";
    case SpanKind::kRecvWait: return "recv_wait";
    case SpanKind::kAllreduce: return "allreduce";
    case SpanKind::kOptimizer: return "optimizer";
    case SpanKind::kTransferWait: return "transfer_wait";
    case SpanKind::kUnspecified: break;
  }
  return "unspecified";
}

// One line of timeline.jsonl: every rank's spans of one step on a common
// time axis (seconds from the earliest rank's step start).
json TimelineLine(int64_t step, const std::map<std::pair<int, int>, StepReport>& reports) {
  double t0 = 0;
  bool first = true;
  for (const auto& [key, r] : reports) {
    if (first || r.step_start_unix < t0) t0 = r.step_start_unix;
    first = false;
  }
  json ranks = json::array();
  for (const auto& [key, r] : reports) {
    json spans = json::array();
    for (const Span& s : r.spans) spans.push_back({SpanKindName(s.kind), s.microbatch, s.start_seconds, s.seconds});
    ranks.push_back({{"module", RoleName(r.role)},
                     {"rank", r.rank},
                     {"start", r.step_start_unix - t0},
                     {"seconds", r.step_seconds},
                     {"messages", r.messages},
                     {"transfer_seconds", {r.transfer_seconds_min, r.transfer_seconds_max}},
                     {"spans", std::move(spans)}});
  }
  return {{"step", step}, {"start_unix", t0}, {"ranks", std::move(ranks)}};
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
  const int ranks = js.job.layout.of(r.role).world();
  if (r.rank < 0 || r.rank >= ranks)
    return Status::InvalidArgument("rank: " + std::to_string(r.rank) + " is outside the " + RoleName(r.role) +
                                   " layout's " + std::to_string(ranks) + " ranks");
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
  double text_sum = 0, gen_sum = 0, longest_rank = 0, end_unix = 0;
  bool timed = true;  // every rank sent its wall-clock start
  int64_t text_total = 0, gen_total = 0, tokens = 0, images = 0;
  double rank_seconds = 0;
  for (const auto& [key, r] : reports) {
    if (r.role == Role::kEncoder) images += r.images;
    rank_seconds += r.step_seconds;
    if (r.role == Role::kLlm) {
      text_sum += r.text_loss_sum;
      tokens += r.tokens;
    }
    if (r.role == Role::kGenerator) gen_sum += r.gen_loss_sum;
    text_total = std::max(text_total, r.global_text_targets);
    gen_total = std::max(gen_total, r.global_gen_targets);
    longest_rank = std::max(longest_rank, r.step_seconds);
    end_unix = std::max(end_unix, r.step_start_unix + r.step_seconds);
    timed = timed && r.step_start_unix > 0;
  }
  // The step's wall-clock period: from the previous step's end (its last
  // rank) to this one's. Ranks overlap consecutive steps (a generator waits
  // for the next step's first microbatch while the encoder still finishes the
  // last), so the longest rank's own duration would overstate it. The first
  // step after a (re)start has no predecessor: its longest rank.
  double step_seconds = longest_rank;
  if (timed && js.last_end_unix > 0 && end_unix > js.last_end_unix) step_seconds = end_unix - js.last_end_unix;
  js.last_end_unix = timed ? end_unix : 0;
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
  m.images = images;
  m.gen_targets = gen_total;
  if (llm0.plan_imbalance.size() == 3) m.imbalance = llm0.plan_imbalance;

  json norms;
  for (Role role : kRoles) norms[RoleName(role)] = rank0(role).grad_norm;
  json line = {{"step", step},           {"loss", m.loss},           {"text_loss", m.text_loss},
               {"gen_loss", m.gen_loss}, {"tokens", tokens},         {"samples", m.samples},
               {"gen_targets", gen_total}, {"text_tokens", text_total}, {"lr", llm0.lr},
               {"grad_norm", norms},     {"step_seconds", step_seconds}};
  if (llm0.plan_imbalance.size() == 3) {  // the reorderer's plan of the step (docs/REORDER.md)
    line["imbalance"] = {{"encoder", llm0.plan_imbalance[0]},
                         {"llm", llm0.plan_imbalance[1]},
                         {"generator", llm0.plan_imbalance[2]}};
    line["plan_ms"] = llm0.plan_solve_ms;
  }
  const fs::path run(js.job.run_dir);
  RETURN_IF_ERROR(AppendLine(run / "metrics.jsonl", line.dump()));
  RETURN_IF_ERROR(AppendLine(run / "ledger.jsonl", json{{"step", step}, {"samples", llm0.sample_ids}}.dump()));

  RETURN_IF_ERROR(AppendLine(run / "timeline.jsonl", TimelineLine(step, reports).dump()));

  double recv_wait = 0;  // every rank's RECV_WAIT seconds
  for (Role role : kRoles) {
    ModuleTimeline t;
    t.module = role;
    const int ranks = js.job.layout.of(role).world();
    for (int rank = 0; rank < ranks; ++rank) {
      const StepReport& r = reports.at({static_cast<int>(role), rank});
      // Transfers in flight while the rank computed are hidden; the waits
      // after the data was sent, the sends and the all-reduce are not. The
      // lower bound of the transfer time keeps the hidden share conservative.
      double exposed_transfer = 0;
      for (const Span& s : r.spans) {
        switch (s.kind) {
          case SpanKind::kCompute:
          case SpanKind::kOptimizer: t.compute_seconds += s.seconds; break;
          case SpanKind::kRecvWait: t.bubble_seconds += s.seconds; break;
          case SpanKind::kTransferWait:
            exposed_transfer += s.seconds;
            t.exposed_communication_seconds += s.seconds;
            break;
          case SpanKind::kAllreduce:
          case SpanKind::kSend:
            t.communication_seconds += s.seconds;
            t.exposed_communication_seconds += s.seconds;
            break;
          case SpanKind::kUnspecified: break;
        }
      }
      t.communication_seconds += std::max(r.transfer_seconds_min, exposed_transfer);
      t.messages += r.messages;
    }
    t.compute_seconds /= ranks;
    t.communication_seconds /= ranks;
    t.exposed_communication_seconds /= ranks;
    recv_wait += t.bubble_seconds;  // before the mean over ranks: the sum over every rank
    t.bubble_seconds /= ranks;
    c.timeline.push_back(t);
  }
  m.bubble_ratio = rank_seconds > 0 ? recv_wait / rank_seconds : 0.0;

  int wrote = 0;
  std::string missing;
  for (Role role : kRoles) {
    if (rank0(role).wrote_checkpoint) ++wrote;
    else missing += std::string(missing.empty() ? "" : ", ") + RoleName(role);
  }
  if (wrote == int(kRoles.size())) {
    const json extra =
        CheckpointExtra(step + 1, js.job.job_yaml, js.job.seed, js.job.global_batch, LayoutToJson(js.job.layout));
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
