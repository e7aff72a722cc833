// The in-process runtime (every rank of every module a thread running the
// real ModuleRunner over the in-process fabric) with each rank on a device
// made by a RankDeviceFactory, or on the host (no factory). Shared by the
// guarded fake device test (tests/worker_device_test.cc) and the CUDA one
// (tests/gpu/runtime_equivalence_test.cc).
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/base/threads.h"
#include "common/config/job_config.h"
#include "common/reorder/in_order_router.h"
#include "common/train/step_plan.h"
#include "common/train/trainer.h"
#include "common/train/training_data.h"
#include "common/worker/inproc_fabric.h"
#include "common/worker/module_runner.h"
#include "common/worker/shard_builder.h"
#include "tests/run_compare.h"
#include "tests/support/inproc_step.h"
#include "tests/temp_dir.h"

namespace braid::worker::device_run {

using Layouts = std::array<parallel::Layout, kNumRoles>;

// The tiny job, as tests/worker_inproc_test.cc runs it.
inline JobConfig TestJob(int steps) {
  auto cfg = LoadJobConfig("tests/data/jobs/tiny.yaml");
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  JobConfig c = *cfg;
  c.train.steps = steps;
  c.train.global_batch = 12;
  c.train.microbatches = 3;
  c.train.warmup_steps = 2;
  c.checkpoint.every = steps;
  c.model.generator.noise_samples = 2;
  EXPECT_TRUE(ValidateJobConfig(c).ok());
  return c;
}

inline JobConfig WithLayouts(JobConfig cfg, const Layouts& l) {
  cfg.parallel.encoder = {l[0].dp, l[0].tp, l[0].pp, {}};
  cfg.parallel.llm = {l[1].dp, l[1].tp, l[1].pp, {}};
  cfg.parallel.generator = {l[2].dp, l[2].tp, l[2].pp, {}};
  return cfg;
}

// "<enc>/<llm>/<gen>", each its dp, then "t<tp>" and "p<pp>" when above 1.
inline std::string LayoutName(const Layouts& l) {
  std::string out;
  for (size_t r = 0; r < l.size(); ++r) {
    if (r > 0) out += "/";
    out += std::to_string(l[r].dp);
    if (l[r].tp > 1) out += "t" + std::to_string(l[r].tp);
    if (l[r].pp > 1) out += "p" + std::to_string(l[r].pp);
  }
  return out;
}

struct Run {
  std::vector<double> losses;                        // per step
  std::vector<std::string> modules;                  // per runner
  std::vector<std::vector<float>> params;            // per runner, final (host copies)
  std::vector<bool> on_device;                       // per runner: its params lived on the device
  std::vector<std::string> allreduce;                // per runner: its DP all-reduce's name ("" if none)
  std::vector<std::string> boundary;                 // per runner: its DeviceBoundary's name ("" if none)
};

// Called once per rank after UseDevice, each on a thread of its own, all at
// once (a collective setup, such as NCCL's, blocks until the group joins).
// The DpGroup is the rank's (the fabric's).
using RankSetup = std::function<Status(ModuleRunner&, DpGroup&)>;

// The single-process trainer's losses and final parameters (module -> flat).
struct Reference {
  std::vector<double> losses;
  std::map<std::string, std::vector<float>> params;
};
inline Reference SingleProcess(const JobConfig& cfg) {
  Reference r;
  testing_util::ScopedTempDir tmp("braid_worker_device_ref_");
  train::TrainOptions opt;
  opt.run_dir = tmp.path() + "/run";
  opt.progress = false;
  auto s = train::TrainSingleProcess(cfg, opt);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  r.losses = testing_util::RunLosses(opt.run_dir);
  r.params = testing_util::CheckpointParams(cfg, opt.run_dir, cfg.train.steps);
  return r;
}

// Runs cfg.train.steps steps of `cfg` (any layout) in process; each rank on
// its own device from `factory` when given, then set up by `setup` when given.
inline Run RunInProc(const JobConfig& cfg, const RankDeviceFactory& factory, const RankSetup& setup = nullptr) {
  Run out;
  const Layouts layouts = {parallel::Layout{cfg.parallel.encoder.dp, cfg.parallel.encoder.tp, cfg.parallel.encoder.pp},
                           parallel::Layout{cfg.parallel.llm.dp, cfg.parallel.llm.tp, cfg.parallel.llm.pp},
                           parallel::Layout{cfg.parallel.generator.dp, cfg.parallel.generator.tp,
                                            cfg.parallel.generator.pp}};
  auto data = train::TrainingData::Load(cfg);
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  if (!data.ok()) return out;
  train::EpochSampler sampler(cfg.seed, (*data)->epoch_samples());
  InProcFabric fabric(layouts, /*timeout_seconds=*/60);
  std::vector<std::unique_ptr<ModuleRunner>> runners;
  std::vector<DpGroup*> dps;
  for (int r = 0; r < kNumRoles; ++r)
    for (int k = 0; k < layouts[size_t(r)].world(); ++k) {
      dps.push_back(fabric.dp_group(Role(r), k));
      const parallel::Layout& l = layouts[size_t(r)];
      runners.push_back(std::make_unique<ModuleRunner>(Role(r), k, cfg, fabric.transport(Role(r), k), dps.back(),
                                                       l.tp > 1 ? fabric.tp_group(Role(r), k) : nullptr,
                                                       l.tp * l.pp > 1 ? fabric.mp_group(Role(r), k) : nullptr));
      if (factory) {
        StatusOr<std::unique_ptr<RankDevice>> dev = factory(Role(r), k);
        EXPECT_TRUE(dev.ok()) << dev.status().ToString();
        if (!dev.ok()) return out;
        Status s = runners.back()->UseDevice(std::move(*dev));
        EXPECT_TRUE(s.ok()) << s.ToString();
        if (!s.ok()) return out;
      }
    }
  if (setup) {
    std::vector<Status> set(runners.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < runners.size(); ++i) {
      threads.emplace_back([&, i] {
        std::unique_ptr<RankDevice::Scope> scope = runners[i]->EnterDevice();
        set[i] = setup(*runners[i], *dps[i]);
      });
    }
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < runners.size(); ++i) {
      EXPECT_TRUE(set[i].ok()) << RoleName(runners[i]->role()) << " rank " << runners[i]->rank() << ": "
                               << set[i].ToString();
      if (!set[i].ok()) return out;
    }
  }
  const reorder::Layout layout{layouts[0].dp, layouts[1].dp, layouts[2].dp};
  for (int64_t step = 0; step < cfg.train.steps; ++step) {
    StatusOr<double> loss = RunInProcStep(runners, **data, sampler, cfg, layout, step);
    EXPECT_TRUE(loss.ok()) << "step " << step << ": " << loss.status().ToString();
    if (!loss.ok()) return out;
    out.losses.push_back(*loss);
  }
  for (auto& mr : runners) {
    std::unique_ptr<RankDevice::Scope> scope = mr->EnterDevice();
    out.modules.push_back(mr->module_name());
    out.on_device.push_back(mr->params().on_device());
    out.params.push_back(mr->params().ParamsToHost());
    out.allreduce.push_back(mr->grad_allreduce() ? mr->grad_allreduce()->name() : "");
    out.boundary.push_back(mr->device_boundary() ? mr->device_boundary()->name() : "");
  }
  if (setup) {
    // Ranks set up together are torn down together (a communicator's
    // teardown may wait for its peers').
    std::vector<std::thread> threads;
    for (auto& mr : runners) threads.emplace_back([&mr] { mr.reset(); });
    for (auto& t : threads) t.join();
  }
  return out;
}

// `run` against the single-process trainer: per-step loss and final params
// within `tol` (relative). Returns the worst per-step loss difference.
inline double ExpectNear(const Run& run, const Reference& ref, double tol, const std::string& what) {
  double worst = 0;
  EXPECT_EQ(run.losses.size(), ref.losses.size()) << what;
  for (size_t s = 0; s < run.losses.size() && s < ref.losses.size(); ++s) {
    const double rel = std::abs(run.losses[s] - ref.losses[s]) / std::abs(ref.losses[s]);
    worst = std::max(worst, rel);
    EXPECT_LE(rel, tol) << what << " step " << s << ": " << run.losses[s] << " vs single-process " << ref.losses[s];
  }
  for (size_t i = 0; i < run.params.size(); ++i) {
    const double d = testing_util::L2RelDiff(run.params[i], ref.params.at(run.modules[i]));
    EXPECT_LE(d, tol) << what << " " << run.modules[i] << " runner " << i << " params rel diff " << d;
  }
  return worst;
}

}  // namespace braid::worker::device_run
