// The distributed runtime on a device (docs/GPU.md step 3): every rank of
// every module is a thread of the in-process runtime running on its own
// guarded fake device (memory that faults on host access outside an op, ops
// that refuse host pointers: tests/support/guarded_device.h). The boundary
// tensors, the DP all-reduce and the microbatch's pixels go through host
// copies. Each DP layout must equal the same layout on the host bit for bit
// (losses and final parameters) and follow the single-process trainer as
// closely as the host runtime does (tests/worker_inproc_test.cc); TP and PP
// on a device are refused; a device error fails the rank naming it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "tests/support/guarded_boundary.h"
#include "tests/support/guarded_device.h"
#include "tests/worker_device_run.h"

namespace braid::worker {
namespace {

using device_run::Layouts;
using testing_support::GuardedDevice;
using testing_support::GuardedOps;

constexpr int kSteps = 20;

// A rank's guarded device; `fail_after` > 0: TakeError reports an error from
// that call on (an injected device fault).
class GuardedRankDevice : public RankDevice {
 public:
  // bf16_activations: the blocks store their GEMM/attention activations in bf16.
  explicit GuardedRankDevice(int fail_after = 0, bool bf16_activations = false)
      : dev_(std::make_unique<GuardedDevice>(size_t{1} << 30)),
        ops_(dev_.get(), bf16_activations),
        fail_after_(fail_after) {}
  std::string kind() const override { return "guarded-fake"; }
  std::unique_ptr<Scope> Enter() override { return std::make_unique<GuardedScope>(ops_.backend()); }
  Status TakeError() override {
    if (fail_after_ > 0 && ++checks_ >= fail_after_) return Status::Internal("injected device fault");
    return Status::Ok();
  }

 private:
  class GuardedScope : public Scope {
   public:
    explicit GuardedScope(ops::Backend b) : scope_(b) {}

   private:
    ops::ScopedBackend scope_;
  };
  std::unique_ptr<GuardedDevice> dev_;
  GuardedOps ops_;
  int fail_after_;
  int checks_ = 0;
};

RankDeviceFactory GuardedFactory(bool bf16_activations = false) {
  return [bf16_activations](Role, int) -> StatusOr<std::unique_ptr<RankDevice>> {
    return std::unique_ptr<RankDevice>(std::make_unique<GuardedRankDevice>(0, bf16_activations));
  };
}

// Every rank's boundary tensors device to device through `fabric`.
device_run::RankSetup BoundariesThrough(testing_support::GuardedBoundaryFabric& fabric) {
  return [&fabric](ModuleRunner& mr, DpGroup&) {
    mr.UseDeviceBoundary(fabric.Make(mr.role(), mr.rank()));
    return Status::Ok();
  };
}

// The test job over `layouts`, its LLM a layer per pipeline stage at least.
JobConfig ModelParallelJob(const Layouts& layouts, int steps) {
  JobConfig cfg = device_run::WithLayouts(device_run::TestJob(steps), layouts);
  cfg.model.llm.layers = 3;
  return cfg;
}

const device_run::Reference& Reference() {
  static const device_run::Reference ref = device_run::SingleProcess(device_run::TestJob(kSteps));
  return ref;
}

void RunLayout(const Layouts& layouts) {
  const JobConfig cfg = device_run::WithLayouts(device_run::TestJob(kSteps), layouts);
  ASSERT_TRUE(ValidateJobConfig(cfg).ok()) << ValidateJobConfig(cfg).ToString();
  const device_run::Run host = device_run::RunInProc(cfg, nullptr);
  const int64_t calls = GuardedOps::calls();
  const device_run::Run dev = device_run::RunInProc(cfg, GuardedFactory());
  ASSERT_EQ(dev.losses.size(), size_t(kSteps));
  EXPECT_GT(GuardedOps::calls() - calls, 1000);  // the ranks really ran through the device tables
  // The device runtime is the host runtime, bit for bit.
  ASSERT_EQ(host.losses.size(), dev.losses.size());
  for (size_t s = 0; s < host.losses.size(); ++s)
    EXPECT_EQ(host.losses[s], dev.losses[s]) << "layout " << device_run::LayoutName(layouts) << " step " << s;
  ASSERT_EQ(host.params.size(), dev.params.size());
  for (size_t i = 0; i < dev.params.size(); ++i) {
    EXPECT_TRUE(dev.on_device[i]) << dev.modules[i] << " runner " << i;
    EXPECT_FALSE(host.on_device[i]);
    EXPECT_TRUE(host.params[i] == dev.params[i]) << dev.modules[i] << " runner " << i << " params differ from the host's";
  }
  // And follows the single-process trainer as the host runtime does.
  const double worst = device_run::ExpectNear(dev, Reference(), 1e-4, device_run::LayoutName(layouts));
  std::printf("layout %s on guarded devices: worst per-step loss rel diff %.3e\n",
              device_run::LayoutName(layouts).c_str(), worst);
}

// Records, in ops run on the rank's guarded device, when each DP sum starts
// and when the step's sums finish; the sums themselves are the host-staged
// path's.
struct AllReduceLog {
  std::vector<ParamBuffer::Bucket> ranges;  // every Start, in order
  std::vector<int64_t> start_ops;           // ops run on the device at each Start
  std::vector<size_t> step_end;             // ranges.size() at each Finish
  std::vector<int64_t> finish_ops;          // ops run at each Finish
  int64_t params = 0;
};

class RecordingAllReduce : public GradAllReduce {
 public:
  RecordingAllReduce(std::unique_ptr<GradAllReduce> inner, AllReduceLog* log)
      : inner_(std::move(inner)), log_(log) {}
  const char* name() const override { return "recording"; }
  Status Start(ParamBuffer& pb, const ParamBuffer::Bucket& r) override {
    log_->ranges.push_back(r);
    log_->start_ops.push_back(OpsRun());
    return inner_->Start(pb, r);
  }
  Status Finish(ParamBuffer& pb) override {
    log_->step_end.push_back(log_->ranges.size());
    log_->finish_ops.push_back(OpsRun());
    return inner_->Finish(pb);
  }

 private:
  static int64_t OpsRun() { return testing_support::CurrentGuardedDevice().ops_run(); }
  std::unique_ptr<GradAllReduce> inner_;
  AllReduceLog* log_;
};

// On a device the DP sums start bucket by bucket while the last backward
// goes on (as on the host), in the same order on every rank of a module,
// and cover each module's gradient exactly once per step; the result is
// the host runtime's, bit for bit.
TEST(WorkerDevice, DpSumsStartDuringTheBackwardOnADevice) {
  const Layouts layouts = {parallel::Layout{2, 1, 1}, parallel::Layout{2, 1, 1}, parallel::Layout{2, 1, 1}};
  const int steps = 3;
  const JobConfig cfg = device_run::WithLayouts(device_run::TestJob(steps), layouts);
  std::mutex mu;
  std::map<std::pair<int, int>, AllReduceLog> logs;  // (role, rank)
  const device_run::Run dev = device_run::RunInProc(cfg, GuardedFactory(), [&](ModuleRunner& mr, DpGroup& dp) {
    AllReduceLog* log;
    {
      std::lock_guard<std::mutex> lock(mu);
      log = &logs[{int(mr.role()), mr.rank()}];
    }
    log->params = mr.params().size();
    mr.UseGradAllReduce(std::make_unique<RecordingAllReduce>(MakeGlooHostStagedAllReduce(&dp), log));
    return Status::Ok();
  });
  const device_run::Run host = device_run::RunInProc(cfg, nullptr);
  ASSERT_EQ(dev.losses.size(), size_t(steps));
  EXPECT_EQ(dev.losses, host.losses);
  EXPECT_EQ(dev.params, host.params);
  ASSERT_EQ(logs.size(), size_t(6));
  int overlapped[kNumRoles] = {0, 0, 0};  // steps x ranks whose sums started during the backward
  for (const auto& [who, log] : logs) {
    SCOPED_TRACE(std::string(RoleName(Role(who.first))) + " rank " + std::to_string(who.second));
    ASSERT_EQ(log.step_end.size(), size_t(steps));
    size_t begin = 0;
    for (int s = 0; s < steps; ++s) {
      std::vector<ParamBuffer::Bucket> step(log.ranges.begin() + long(begin), log.ranges.begin() + long(log.step_end[size_t(s)]));
      ASSERT_GE(step.size(), size_t(2)) << "step " << s;
      // The first sum started with device work still to come before the
      // step's sums finished (the backward of earlier layers), unless the
      // rank's last microbatch was empty (then all start at the end).
      EXPECT_LE(log.start_ops[begin], log.finish_ops[size_t(s)]) << "step " << s;
      if (log.start_ops[begin] < log.finish_ops[size_t(s)]) ++overlapped[who.first];
      std::sort(step.begin(), step.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
      int64_t at = 0;
      for (const ParamBuffer::Bucket& r : step) {
        EXPECT_EQ(r.offset, at) << "step " << s;
        at = r.offset + r.numel;
      }
      EXPECT_EQ(at, log.params) << "step " << s;
      begin = log.step_end[size_t(s)];
    }
  }
  for (int role = 0; role < kNumRoles; ++role) {
    EXPECT_GT(overlapped[role], 0) << RoleName(Role(role)) << ": no DP sum started during a backward";
    std::printf("%s: DP sums started during the backward in %d of %d rank-steps\n", RoleName(Role(role)),
                overlapped[role], 2 * steps);
    const AllReduceLog& a = logs[{role, 0}];
    const AllReduceLog& b = logs[{role, 1}];
    ASSERT_EQ(a.ranges.size(), b.ranges.size()) << RoleName(Role(role));
    for (size_t i = 0; i < a.ranges.size(); ++i)
      EXPECT_TRUE(a.ranges[i].offset == b.ranges[i].offset && a.ranges[i].numel == b.ranges[i].numel)
          << RoleName(Role(role)) << " sum " << i << " differs between the DP ranks";
  }
}

// The boundary tensors device to device (a DeviceBoundary, here the guarded
// fake with NCCL's matching rule and a key check): the runtime equals the
// host runtime bit for bit, every boundary tensor crossed device to device,
// and with dp 1 a rank reads device memory back once per step (its loss
// sums and grad norm), not once per microbatch.
void RunWithDeviceBoundary(const Layouts& layouts) {
  const int steps = 4;
  const JobConfig cfg = device_run::WithLayouts(device_run::TestJob(steps), layouts);
  testing_support::GuardedBoundaryFabric fabric(layouts);
  const device_run::Run dev = device_run::RunInProc(cfg, GuardedFactory(), BoundariesThrough(fabric));
  const device_run::Run host = device_run::RunInProc(cfg, nullptr);
  ASSERT_EQ(dev.losses.size(), size_t(steps));
  EXPECT_EQ(dev.losses, host.losses);
  EXPECT_EQ(dev.params, host.params);
  EXPECT_GT(fabric.transfers(), 4 * steps);
  for (int r = 0; r < kNumRoles; ++r)
    for (int k = 0; k < layouts[size_t(r)].world(); ++k) {
      const std::vector<int64_t> reads = fabric.host_reads_at_flush(Role(r), k);
      ASSERT_EQ(reads.size(), size_t(steps)) << RoleName(Role(r)) << " rank " << k;
      if (layouts[size_t(r)].dp > 1) continue;  // the host-staged DP sum reads the gradients back
      for (int s = 1; s < steps; ++s)
        EXPECT_EQ(reads[size_t(s)] - reads[size_t(s) - 1], 1)
            << RoleName(Role(r)) << " rank " << k << ": device reads between the ends of steps " << s - 1 << " and " << s;
    }
}

TEST(WorkerDevice, BoundariesDeviceToDeviceLayout111) {
  RunWithDeviceBoundary({parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}});
}
TEST(WorkerDevice, BoundariesDeviceToDeviceLayout212) {
  RunWithDeviceBoundary({parallel::Layout{2, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 1}});
}
TEST(WorkerDevice, BoundariesDeviceToDeviceLayout121) {
  RunWithDeviceBoundary({parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 1}, parallel::Layout{1, 1, 1}});
}

// Model parallelism on a device: the LLM's pipeline stages and the
// encoder's and the LLM's TP slices on guarded fake devices (TP sums through
// host copies, the vocabulary-parallel loss as device ops), the stages'
// hidden states through host copies or device to device; the same run as
// the host runtime, bit for bit.
void RunModelParallel(const Layouts& layouts, bool device_boundary) {
  const int steps = 4;
  const JobConfig cfg = ModelParallelJob(layouts, steps);
  ASSERT_TRUE(ValidateJobConfig(cfg).ok()) << ValidateJobConfig(cfg).ToString();
  testing_support::GuardedBoundaryFabric fabric(layouts);
  const device_run::Run dev =
      device_run::RunInProc(cfg, GuardedFactory(), device_boundary ? BoundariesThrough(fabric) : nullptr);
  const device_run::Run host = device_run::RunInProc(cfg, nullptr);
  const std::string what = "layout " + device_run::LayoutName(layouts) + (device_boundary ? " device-to-device" : "");
  ASSERT_EQ(dev.losses.size(), size_t(steps)) << what;
  EXPECT_EQ(dev.losses, host.losses) << what;
  EXPECT_EQ(dev.params, host.params) << what;
  for (size_t i = 0; i < dev.on_device.size(); ++i) {
    EXPECT_TRUE(dev.on_device[i]) << what << " runner " << i;
  }
  if (device_boundary) {
    EXPECT_GT(fabric.transfers(), 0) << what;
  }
}

TEST(WorkerDevice, PipelineOnGuardedDevicesEqualsTheHost) {
  RunModelParallel({parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 2}, parallel::Layout{1, 1, 1}}, false);
  RunModelParallel({parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 2}, parallel::Layout{1, 1, 1}}, false);
}
TEST(WorkerDevice, PipelineDeviceToDeviceEqualsTheHost) {
  RunModelParallel({parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 2}, parallel::Layout{1, 1, 1}}, true);
  RunModelParallel({parallel::Layout{2, 1, 1}, parallel::Layout{2, 1, 3}, parallel::Layout{1, 1, 1}}, true);
}
TEST(WorkerDevice, TensorParallelOnGuardedDevicesEqualsTheHost) {
  RunModelParallel({parallel::Layout{1, 2, 1}, parallel::Layout{1, 2, 1}, parallel::Layout{1, 1, 1}}, false);
  RunModelParallel({parallel::Layout{1, 1, 1}, parallel::Layout{2, 2, 2}, parallel::Layout{1, 1, 1}}, true);
}

TEST(WorkerDevice, Layout111OnGuardedDevicesEqualsTheHost) {
  RunLayout({parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}});
}
TEST(WorkerDevice, Layout121OnGuardedDevicesEqualsTheHost) {
  RunLayout({parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 1}, parallel::Layout{1, 1, 1}});
}
TEST(WorkerDevice, Layout212OnGuardedDevicesEqualsTheHost) {
  RunLayout({parallel::Layout{2, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 1}});
}

// bf16 activation storage in the runtime (docs/GPU.md, "Mixed precision"):
// DP, PP and TP ranks whose blocks keep their activations in bf16 (stage
// hidden states device to device) follow the float runtime of the same
// layout within bf16's precision, and really differ from it (the rounding
// happened). Losses within 1% of bf16's unit roundoff per step; parameters
// after AdamW within one unit (L2, relative).
TEST(WorkerDevice, Bf16ActivationsFollowTheFloatRuntimeInEveryLayout) {
  const double unit = 1.0 / 256;
  const int steps = 8;
  for (const Layouts& layouts :
       {Layouts{parallel::Layout{2, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 1}},
        Layouts{parallel::Layout{1, 2, 1}, parallel::Layout{2, 2, 2}, parallel::Layout{1, 1, 1}}}) {
    const std::string name = device_run::LayoutName(layouts);
    const JobConfig cfg = ModelParallelJob(layouts, steps);
    ASSERT_TRUE(ValidateJobConfig(cfg).ok()) << ValidateJobConfig(cfg).ToString();
    testing_support::GuardedBoundaryFabric fabric(layouts);
    const device_run::Run bf = device_run::RunInProc(cfg, GuardedFactory(true), BoundariesThrough(fabric));
    const device_run::Run fp = device_run::RunInProc(cfg, GuardedFactory(false));
    ASSERT_EQ(bf.losses.size(), size_t(steps)) << name;
    ASSERT_EQ(fp.losses.size(), size_t(steps)) << name;
    EXPECT_NE(bf.losses, fp.losses) << name;
    double worst_loss = 0, worst_params = 0;
    for (int s = 0; s < steps; ++s) {
      const double rel = std::abs(bf.losses[size_t(s)] - fp.losses[size_t(s)]) / std::abs(fp.losses[size_t(s)]);
      worst_loss = std::max(worst_loss, rel);
      EXPECT_LE(rel, 0.01 * unit) << name << " step " << s;
    }
    ASSERT_EQ(bf.params.size(), fp.params.size()) << name;
    for (size_t i = 0; i < bf.params.size(); ++i) {
      const double d = testing_util::L2RelDiff(bf.params[i], fp.params[i]);
      worst_params = std::max(worst_params, d);
      EXPECT_LE(d, unit) << name << " " << bf.modules[i] << " runner " << i;
    }
    EXPECT_GT(fabric.transfers(), 0) << name;
    std::printf("layout %s with bf16 activations: worst loss rel diff %.3e, params %.3e (float runtime)\n",
                name.c_str(), worst_loss, worst_params);
  }
}

// Step 0 of `cfg` (layout 1/1/1) on `runners`, one thread each, which may
// fail: each runner's result.
std::vector<StatusOr<StepResult>> RunFirstStep(const JobConfig& cfg,
                                               std::vector<std::unique_ptr<ModuleRunner>>& runners) {
  std::vector<StatusOr<StepResult>> results(runners.size(), Status::Internal("not run"));
  auto data = train::TrainingData::Load(cfg);
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  if (!data.ok()) return results;
  train::EpochSampler sampler(cfg.seed, (*data)->epoch_samples());
  std::vector<Sample> samples;
  for (int64_t id : sampler.StepIds(0, cfg.train.global_batch)) samples.push_back(*(*data)->Make(id));
  reorder::StepPlan plan = reorder::PlanInOrder(0, MetasOf(samples), cfg.train.microbatches, {1, 1, 1});
  std::vector<std::thread> threads;
  for (size_t i = 0; i < runners.size(); ++i)
    threads.emplace_back([&, i] {
      ModuleRunner& mr = *runners[i];
      results[i] = mr.RunStep(0, BuildRankShards(samples, plan, mr.role(), 0, cfg.seed));
    });
  for (auto& t : threads) t.join();
  return results;
}

TEST(WorkerDevice, ADeviceErrorFailsTheRankNamingIt) {
  const JobConfig cfg = device_run::TestJob(3);
  InProcFabric fabric(1, 1, 1, /*timeout_seconds=*/2);
  std::vector<std::unique_ptr<ModuleRunner>> runners;
  for (int r = 0; r < kNumRoles; ++r) {
    runners.push_back(
        std::make_unique<ModuleRunner>(Role(r), 0, cfg, fabric.transport(Role(r), 0), fabric.dp_group(Role(r), 0)));
    // The LLM's device fails at its first check after the move (its first forward).
    ASSERT_TRUE(runners.back()->UseDevice(std::make_unique<GuardedRankDevice>(Role(r) == Role::kLlm ? 2 : 0)).ok());
  }
  const std::vector<StatusOr<StepResult>> results = RunFirstStep(cfg, runners);
  const StatusOr<StepResult>& llm = results[size_t(Role::kLlm)];
  ASSERT_FALSE(llm.ok());
  EXPECT_EQ(llm.status().code(), StatusCode::kInternal);
  EXPECT_EQ(llm.status().message(), "llm rank 0 on guarded-fake, llm forward: injected device fault");
  EXPECT_FALSE(results[size_t(Role::kEncoder)].ok());  // its gradients never come
}

// A boundary transfer that never arrives (the fake loses every LLM ->
// generator send) fails the ranks waiting for it within the timeout,
// naming the rank and the transfer, instead of hanging.
TEST(WorkerDevice, ALostDeviceTransferFailsTheReceiverNamingIt) {
  const JobConfig cfg = device_run::TestJob(3);
  InProcFabric fabric(1, 1, 1, /*timeout_seconds=*/2);
  const Layouts one = {parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}};
  testing_support::GuardedBoundaryFabric boundary(one, /*timeout_seconds=*/1);
  boundary.DropSends(BoundaryKind::kLlmToGen);
  std::vector<std::unique_ptr<ModuleRunner>> runners;
  for (int r = 0; r < kNumRoles; ++r) {
    runners.push_back(
        std::make_unique<ModuleRunner>(Role(r), 0, cfg, fabric.transport(Role(r), 0), fabric.dp_group(Role(r), 0)));
    ASSERT_TRUE(runners.back()->UseDevice(std::make_unique<GuardedRankDevice>()).ok());
    runners.back()->UseDeviceBoundary(boundary.Make(Role(r), 0));
  }
  const std::vector<StatusOr<StepResult>> results = RunFirstStep(cfg, runners);
  const StatusOr<StepResult>& gen = results[size_t(Role::kGenerator)];
  ASSERT_FALSE(gen.ok());
  EXPECT_EQ(gen.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(gen.status().message().rfind("generator rank 0: boundary recv of llm->gen step 0 mb ", 0), 0u)
      << gen.status().message();
  EXPECT_NE(gen.status().message().find("nothing sent"), std::string::npos) << gen.status().message();
  const StatusOr<StepResult>& llm = results[size_t(Role::kLlm)];
  ASSERT_FALSE(llm.ok());  // the conditioning gradients never come
  EXPECT_EQ(llm.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(llm.status().message().find("gen->llm"), std::string::npos) << llm.status().message();
}

}  // namespace
}  // namespace braid::worker
