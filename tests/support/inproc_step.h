// One step of the in-process runtime (every rank a thread running the real
// ModuleRunner), shared by the runtime tests on the host
// (tests/worker_inproc_test.cc) and on devices (tests/worker_device_run.h).
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/base/threads.h"
#include "common/config/job_config.h"
#include "common/reorder/in_order_router.h"
#include "common/train/step_plan.h"
#include "common/train/training_data.h"
#include "common/worker/module_runner.h"
#include "common/worker/shard_builder.h"

namespace braid::worker {

// Step `step`: its samples as the single-process trainer draws them, planned
// in order over `layout`, every runner's RunStep on a thread of its own (one
// compute thread each; every TP rank of a replica gets the replica's share).
// Returns the step's loss as the trainer reports it, or the first failure
// ("<module> rank <k>: <status>").
inline StatusOr<double> RunInProcStep(std::vector<std::unique_ptr<ModuleRunner>>& runners,
                                      train::TrainingData& data, train::EpochSampler& sampler, const JobConfig& cfg,
                                      const reorder::Layout& layout, int64_t step) {
  std::vector<Sample> samples;
  for (int64_t id : sampler.StepIds(step, cfg.train.global_batch)) {
    ASSIGN_OR_RETURN(Sample s, data.Make(id));
    samples.push_back(std::move(s));
  }
  const reorder::StepPlan plan = reorder::PlanInOrder(step, MetasOf(samples), cfg.train.microbatches, layout);
  std::vector<StatusOr<StepResult>> results(runners.size(), Status::Internal("not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < runners.size(); ++i) {
    threads.emplace_back([&, i] {
      SetComputeThreads(1);
      ModuleRunner& mr = *runners[i];
      results[i] = mr.RunStep(step, BuildRankShards(samples, plan, mr.role(), mr.coord().dp, cfg.seed));
    });
  }
  for (auto& t : threads) t.join();
  double text = 0, gen = 0;
  for (size_t i = 0; i < runners.size(); ++i) {
    if (!results[i].ok()) {
      return Status(results[i].status().code(), std::string(RoleName(runners[i]->role())) + " rank " +
                                                    std::to_string(runners[i]->rank()) + ": " +
                                                    results[i].status().ToString());
    }
    text += results[i]->text_loss_sum;
    gen += results[i]->gen_loss_sum;
  }
  return (plan.global_text_targets ? text / double(plan.global_text_targets) : 0.0) +
         (plan.global_gen_targets ? gen / double(plan.global_gen_targets) : 0.0);
}

}  // namespace braid::worker
