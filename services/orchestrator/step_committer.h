// StepCommitter: gathers every rank's ReportStep for a step and, when the
// step is complete (every DP rank of every module reported it), commits it:
// one line to <run_dir>/metrics.jsonl and one to <run_dir>/ledger.jsonl in
// exactly the single-process trainer's formats (common/train/trainer.cc),
// and the checkpoint's manifest when the shards were written.
//
// The metrics line of step s (from the reports of step s):
//   text_loss   = Σ text_loss_sum (LLM ranks) / global_text_targets, 0 when the count is 0
//   gen_loss    = Σ gen_loss_sum (generator ranks) / global_gen_targets, 0 when the count is 0
//   loss        = text_loss + gen_loss
//   tokens      = Σ tokens of the LLM ranks
//   samples     = the number of sample ids LLM rank 0 reported (the whole step)
//   gen_targets = global_gen_targets, text_tokens = global_text_targets (the
//                 plan's global counts; the largest any rank reported)
//   lr          = LLM rank 0's; grad_norm = {encoder, llm, generator} from
//                 each module's rank 0
//   step_seconds = the step's wall-clock period: from the previous committed
//                 step's end (the latest step_start_unix + step_seconds over
//                 its ranks) to this step's; the longest rank's step_seconds
//                 for the first step after a (re)start or when a rank sent
//                 no start time
//   imbalance, plan_ms = the reorderer's plan statistics, when LLM rank 0
//                 reported them
//   ("images", which encoder ranks report, stays out of the line to keep
//   the trainer's format; StepMetrics carries it for the Prometheus metrics,
//   with gen_targets, bubble_ratio = Σ RECV_WAIT / Σ ranks' step_seconds and
//   the plan's imbalance.)
// The ledger line is {"step":s,"samples":[LLM rank 0's sample_ids]}.
// Every rank's spans go to <run_dir>/timeline.jsonl.
//
// Timeline summary (per module, the last committed step, averaged over the
// module's ranks; messages summed):
//   compute       = Σ seconds of COMPUTE + OPTIMIZER spans
//   bubble        = Σ seconds of RECV_WAIT spans: waiting for data the peer
//                   had not sent yet (it was still computing)
//   exposed       = Σ seconds of TRANSFER_WAIT + SEND + ALLREDUCE spans: waits
//                   after the data was sent, the sends and the all-reduce
//   communication = Σ seconds of SEND + ALLREDUCE spans
//                   + max(transfer_seconds_min, Σ TRANSFER_WAIT): transfers
//                   hidden behind compute count too, by their lower bound
//
// Checkpoints: when rank 0 of every module reports wrote_checkpoint for step
// s, <run_dir>/checkpoints/step-<s+1>.tmp/ is finalized into step-<s+1>/
// (FinalizeCheckpointDir) with the trainer's "extra" keys (next_step,
// job_yaml, seed, data_cursor, layout).
//
// Threads: not thread-safe; the Orchestrator calls it under its mutex.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/base/status.h"
#include "services/orchestrator/core_types.h"

namespace braid::orchestrator {

struct CommitterJob {
  std::string job_id, run_dir;
  Layout layout;
  int64_t total_steps = 0;
  int64_t start_step = 0;
  int checkpoint_keep = 3;
  std::string job_yaml;  // resolved spec (checkpoint extra)
  uint64_t seed = 0;
  int global_batch = 0;
};

struct StepCommit {
  int64_t step = 0;
  StepMetrics metrics;
  std::vector<ModuleTimeline> timeline;  // encoder, llm, generator
  std::string checkpoint_dir;            // the step dir finalized, if any
  std::string checkpoint_error;          // why a checkpoint was not finalized, if one was due
  bool last = false;                     // step == total_steps - 1
};

class StepCommitter {
 public:
  // Starts collecting for a job; metrics.jsonl and ledger.jsonl are created
  // (appended to) in run_dir. AlreadyExists when the job is known.
  Status StartJob(const CommitterJob& job);
  void EndJob(const std::string& job_id);

  // Records one rank's report (a repeated report replaces the earlier one;
  // one for an already committed step is ignored) and commits every step
  // this completes, in order. NotFound for an unknown job; InvalidArgument
  // for a rank outside the layout; OutOfRange for a step past the end;
  // Unavailable when a line cannot be written.
  StatusOr<std::vector<StepCommit>> Add(const StepReport& report);
  // Steps committed so far (the next step to commit), or -1 if unknown.
  int64_t next_step(const std::string& job_id) const;

 private:
  struct JobState {
    CommitterJob job;
    int64_t next = 0;
    // step -> (role, rank) -> report
    std::map<int64_t, std::map<std::pair<int, int>, StepReport>> pending;
    double last_end_unix = 0;  // when the previous committed step's last rank finished
  };
  StatusOr<StepCommit> Commit(JobState& js, const std::map<std::pair<int, int>, StepReport>& reports);

  std::map<std::string, JobState> jobs_;
};

}  // namespace braid::orchestrator
