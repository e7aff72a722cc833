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

#include <atomic>

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
  explicit GuardedRankDevice(int fail_after = 0)
      : dev_(std::make_unique<GuardedDevice>(size_t{1} << 30)), ops_(dev_.get()), fail_after_(fail_after) {}
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

RankDeviceFactory GuardedFactory() {
  return [](Role, int) -> StatusOr<std::unique_ptr<RankDevice>> {
    return std::unique_ptr<RankDevice>(std::make_unique<GuardedRankDevice>());
  };
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

TEST(WorkerDevice, Layout111OnGuardedDevicesEqualsTheHost) {
  RunLayout({parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{1, 1, 1}});
}
TEST(WorkerDevice, Layout121OnGuardedDevicesEqualsTheHost) {
  RunLayout({parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 1}, parallel::Layout{1, 1, 1}});
}
TEST(WorkerDevice, Layout212OnGuardedDevicesEqualsTheHost) {
  RunLayout({parallel::Layout{2, 1, 1}, parallel::Layout{1, 1, 1}, parallel::Layout{2, 1, 1}});
}

TEST(WorkerDevice, TpOnADeviceIsUnimplementedNamingTheModule) {
  JobConfig cfg = device_run::TestJob(3);
  const Layouts layouts = {parallel::Layout{1, 1, 1}, parallel::Layout{1, 2, 1}, parallel::Layout{1, 1, 1}};
  cfg = device_run::WithLayouts(cfg, layouts);
  InProcFabric fabric(layouts, 1);
  ModuleRunner llm(Role::kLlm, 0, cfg, fabric.transport(Role::kLlm, 0), fabric.dp_group(Role::kLlm, 0),
                   fabric.tp_group(Role::kLlm, 0), fabric.mp_group(Role::kLlm, 0));
  Status s = llm.UseDevice(std::make_unique<GuardedRankDevice>());
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_EQ(s.message(),
            "parallel.llm: tp/pp on device: guarded-fake is not implemented (tp 2, pp 1); the distributed runtime "
            "trains data-parallel layouts (tp 1, pp 1 on every module) on a device (docs/GPU.md step 3)");
  EXPECT_EQ(llm.device(), nullptr);
  EXPECT_FALSE(llm.params().on_device());
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
  auto data = train::TrainingData::Load(cfg);
  ASSERT_TRUE(data.ok());
  train::EpochSampler sampler(cfg.seed, (*data)->epoch_samples());
  std::vector<Sample> samples;
  for (int64_t id : sampler.StepIds(0, cfg.train.global_batch)) samples.push_back(*(*data)->Make(id));
  reorder::StepPlan plan = reorder::PlanInOrder(0, MetasOf(samples), cfg.train.microbatches, {1, 1, 1});
  std::vector<StatusOr<StepResult>> results(runners.size(), Status::Internal("not run"));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < runners.size(); ++i)
    threads.emplace_back([&, i] {
      ModuleRunner& mr = *runners[i];
      results[i] = mr.RunStep(0, BuildRankShards(samples, plan, mr.role(), 0, cfg.seed));
    });
  for (auto& t : threads) t.join();
  const StatusOr<StepResult>& llm = results[size_t(Role::kLlm)];
  ASSERT_FALSE(llm.ok());
  EXPECT_EQ(llm.status().code(), StatusCode::kInternal);
  EXPECT_EQ(llm.status().message(), "llm rank 0 on guarded-fake, llm forward: injected device fault");
  EXPECT_FALSE(results[size_t(Role::kEncoder)].ok());  // its gradients never come
}

}  // namespace
}  // namespace braid::worker
