// The reorderer's logic without gRPC: open a job (load its dataset index),
// and compute any (step, role, rank)'s share of every microbatch from the
// routing plan. Thread-safe: each worker stream runs on its own thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/config/job_config.h"
#include "common/reorder/policies.h"
#include "common/reorder/step_plan_types.h"
#include "common/train/training_data.h"
#include "common/worker/rank_data.h"

namespace braid::reorderer {

class EpochSamplerHolder;

// One planned step: its preprocessed samples and routing plan.
struct PlannedStep {
  std::vector<Sample> samples;
  reorder::StepPlan plan;
};

// The last few planned steps of a job, shared by its worker streams: each
// step is preprocessed and planned once, by whichever stream asks first
// (streams run ahead of compute, so that is step s+1 or later while step s
// trains), instead of once per rank.
class PlannedStepCache {
 public:
  // The step from the cache, or made by `make` (outside the lock; two
  // streams racing for a new step may both make it, the first one stored
  // wins). Keeps the newest `kKeep` steps.
  StatusOr<std::shared_ptr<const PlannedStep>> Get(
      int64_t step, const std::function<StatusOr<std::shared_ptr<const PlannedStep>>()>& make);
  static constexpr size_t kKeep = 16;

 private:
  std::mutex mu_;
  std::map<int64_t, std::shared_ptr<const PlannedStep>> steps_;
};

// Called once per planned step (metrics): the job, the seconds spent
// preparing and planning its global batch.
using PlanObserver = std::function<void(const std::string& job_id, double seconds)>;

struct OpenedJob {
  std::string id;
  JobConfig cfg;
  PlanObserver on_plan;  // may be empty
  // data.reorder (none = sequential), with FLOP costs of the job's model
  // (docs/REORDER.md).
  reorder::Policy policy = reorder::Policy::kSequential;
  reorder::PlanOptions plan_options;  // its layout: the job's DP sizes
  int32_t image_tokens = 0;  // LLM rows per image
  std::unique_ptr<train::TrainingData> data;  // read-only after load
  mutable PlannedStepCache planned;
};

class ReordererCore {
 public:
  // Parses and validates the spec, loads the data. Re-opening an open job
  // with the same spec is a no-op; with another spec (a recovered job whose
  // layout changed) it replaces the job.
  StatusOr<int64_t> OpenJob(const std::string& job_id, const std::string& job_yaml);
  void CloseJob(const std::string& job_id);
  StatusOr<std::shared_ptr<const OpenedJob>> Find(const std::string& job_id) const;
  // Set before any OpenJob; jobs opened later report to it.
  void SetPlanObserver(PlanObserver f) { on_plan_ = std::move(f); }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const OpenedJob>> jobs_;
  PlanObserver on_plan_;
};

// Plans step `step` of a job with its policy (once per step, shared through
// the job's PlannedStepCache) and cuts out (role, rank)'s share, one
// RankMicrobatch per microbatch.
// `sampler_cache` keeps the epoch permutation between calls of one stream.
class StepSharder {
 public:
  explicit StepSharder(std::shared_ptr<const OpenedJob> job);
  ~StepSharder();
  StatusOr<std::vector<worker::RankMicrobatch>> Shards(int64_t step, worker::Role role, int rank);

 private:
  std::shared_ptr<const OpenedJob> job_;
  std::unique_ptr<EpochSamplerHolder> sampler_;
};

}  // namespace braid::reorderer
