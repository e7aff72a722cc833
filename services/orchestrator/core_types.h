// Plain types of the orchestrator core: what the gRPC layer converts the
// braid.v1 messages to and from (proto_convert.h). No gRPC or protobuf here,
// so the core is unit-tested without a server.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base/clock.h"
#include "common/config/job_config.h"

namespace braid::orchestrator {

// Same numbers as braid.v1.Module.
enum class Role { kEncoder = 1, kLlm = 2, kGenerator = 3 };
inline constexpr std::array<Role, 3> kRoles = {Role::kEncoder, Role::kLlm, Role::kGenerator};
inline int RoleIndex(Role r) { return static_cast<int>(r) - 1; }
// "encoder", "llm", "generator" (the checkpoint file stems and job spec keys).
const char* RoleName(Role r);
bool ValidRole(int value);

struct ModuleLayout {
  int dp = 1, tp = 1, pp = 1;
  std::vector<int> layers;  // per pipeline stage (the LLM; empty = even split)
  int world() const { return dp * tp * pp; }  // the module's ranks (workers)
  bool operator==(const ModuleLayout&) const = default;
};
struct Layout {
  ModuleLayout encoder, llm, generator;
  const ModuleLayout& of(Role r) const;
  ModuleLayout& of(Role r);
  bool operator==(const Layout&) const = default;
};

// The layout a job spells out. parallel.auto_layout resolves to 1/1/1 here;
// the scheduler replaces it with the planned one (auto_layout.h).
Layout ResolveLayout(const JobConfig& cfg);
// Writes `layout` into cfg->parallel (auto_layout off): the spec a job runs with.
// UNIMPLEMENTED naming the field when the spec asks for a layout the
// distributed runtime cannot run (pp other than 1 outside the LLM, a
// generator tp other than 1), instead of silently training another one.
Status RuntimeSupportsLayout(const JobConfig& cfg);
void ApplyLayout(const Layout& layout, JobConfig* cfg);
// {"encoder":{"dp":..,"tp":..,"pp":..},"llm":{..},"generator":{..}}: the
// checkpoint manifest's "layout" and the job store's. FromJson: false
// unless every module has integer dp, tp and pp.
nlohmann::json LayoutToJson(const Layout& layout);
bool LayoutFromJson(const nlohmann::json& j, Layout* layout);

// Same numbers as braid.v1.JobState.
// RECOVERING: a rank was lost; the job waits for workers to resume from
// its last good checkpoint (docs/RELIABILITY.md).
enum class JobState { kPending = 1, kRunning = 2, kSucceeded = 3, kFailed = 4, kCancelled = 5, kRecovering = 6 };
const char* JobStateName(JobState s);  // "PENDING", ...
inline bool IsFinal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kCancelled;
}

// One entry of a job's history (losses, recoveries, skipped checkpoints).
struct JobHistoryEvent {
  double unix = 0;
  std::string text;
};

// One committed step (a metrics.jsonl line, abridged).
struct StepMetrics {
  int64_t step = 0;
  double loss = 0, text_loss = 0, gen_loss = 0;
  int64_t tokens = 0, samples = 0;
  double step_seconds = 0, tokens_per_second = 0;
  // For the metrics (docs/METRICS.md): the step's work and its shape.
  int64_t images = 0, gen_targets = 0;
  double bubble_ratio = 0;        // Σ ranks' RECV_WAIT seconds / Σ ranks' step seconds
  std::vector<double> imbalance;  // the plan's, per module (encoder, LLM, generator); empty = not reported
};

// Seconds of one module's last committed step, averaged over its ranks
// (definitions in step_committer.h).
struct ModuleTimeline {
  Role module = Role::kEncoder;
  double compute_seconds = 0, communication_seconds = 0, exposed_communication_seconds = 0, bubble_seconds = 0;
  int64_t messages = 0;
};

// What JobService shows of a job (braid.v1.Job).
struct Job {
  std::string id, name;
  JobState state = JobState::kPending;
  std::string reason;  // pending reason or failure message
  Layout layout;
  int64_t step = 0;  // steps committed so far
  int64_t total_steps = 0;
  bool has_last = false;
  StepMetrics last;
  std::string run_dir;
  double submitted_unix = 0, started_unix = 0, finished_unix = 0;
  std::vector<ModuleTimeline> timeline;
  double eta_seconds = 0;
  int attempt = 0;        // runs started (1 = the first); assignments and reports carry it
  int restarts = 0;       // recoveries so far
  int max_restarts = 0;   // reliability.max_restarts
  int64_t resume_step = 0;  // the step the next attempt starts at
  std::string resume_checkpoint;  // its step-N dir ("" = from scratch)
  int64_t initial_step = 0;       // where the job started: 0, or checkpoint.resume_from's step
  std::string initial_checkpoint;
  std::vector<JobHistoryEvent> history;
};

// Same numbers as braid.v1.Command.
enum class Command { kNone = 0, kCancelJob = 1, kShutdown = 2 };

// A worker's part in a job (braid.v1.Assignment).
struct Assignment {
  std::string job_id, job_yaml;
  Role role = Role::kEncoder;
  int rank = 0;
  Layout layout;
  std::string reorderer_address, rendezvous_prefix, run_dir;
  int64_t start_step = 0;
  int attempt = 1;
  std::string resume_checkpoint;  // step-N dir to load before start_step ("" = fresh init)
};

// Same numbers as braid.v1.Span.Kind.
enum class SpanKind {
  kUnspecified = 0,
  kCompute = 1,
  kSend = 2,
  kRecvWait = 3,
  kAllreduce = 4,
  kOptimizer = 5,
  kTransferWait = 6
};
struct Span {
  SpanKind kind = SpanKind::kUnspecified;
  int microbatch = 0;
  double start_seconds = 0, seconds = 0;
};

// One rank's ReportStep.
struct StepReport {
  std::string worker_id, job_id;
  int64_t step = 0;
  Role role = Role::kEncoder;
  int rank = 0;
  double text_loss_sum = 0, gen_loss_sum = 0;
  int64_t global_text_targets = 0, global_gen_targets = 0;
  int64_t tokens = 0;
  int64_t images = 0;  // encoder ranks
  std::vector<int64_t> sample_ids;
  double step_seconds = 0;
  std::vector<Span> spans;
  double grad_norm = 0, lr = 0;
  bool wrote_checkpoint = false;
  double step_start_unix = 0;
  double transfer_seconds_min = 0, transfer_seconds_max = 0;
  int64_t messages = 0;
  double plan_solve_ms = 0;
  std::vector<double> plan_imbalance;  // encoder, LLM, generator; empty = not reported
  int attempt = 0;  // the assignment's attempt (0 = not said)
};

using braid::UnixNowSeconds;

}  // namespace braid::orchestrator
