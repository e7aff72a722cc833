// The single-process trainer on a device backend (docs/GPU.md step 3): the
// tiny job trained on the guarded fake device (memory that faults on host
// access outside an op; ops that refuse host pointers) writes checkpoints
// byte-identical to the host run's, and the same losses. This is the whole
// training step (three modules, losses, grad clip, AdamW, checkpoints)
// through the device op table.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/config/job_config.h"
#include "common/train/trainer.h"
#include "tests/support/guarded_device.h"

namespace braid {
namespace {
namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

train::TrainSummary Train(const JobConfig& cfg, const fs::path& dir, const ops::Backend* backend) {
  fs::remove_all(dir);
  train::TrainOptions opt;
  opt.run_dir = dir.string();
  opt.progress = false;
  opt.backend = backend;
  auto s = train::TrainSingleProcess(cfg, opt);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : train::TrainSummary{};
}

TEST(TrainDevice, TinyJobOnAGuardedDeviceWritesTheHostRunsCheckpoints) {
  auto cfg = LoadJobConfig("tests/data/jobs/tiny.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  cfg->train.threads = 1;
  const fs::path root = fs::temp_directory_path() / ("braid_train_device_" + std::to_string(getpid()));
  const train::TrainSummary host = Train(*cfg, root / "host", nullptr);

  testing_support::GuardedDevice dev;
  testing_support::GuardedOps gops(&dev);
  const ops::Backend backend = gops.backend();
  const int64_t calls_before = testing_support::GuardedOps::calls();
  const train::TrainSummary device = Train(*cfg, root / "device", &backend);
  EXPECT_GT(testing_support::GuardedOps::calls() - calls_before, 100);

  EXPECT_EQ(device.steps_run, host.steps_run);
  EXPECT_EQ(device.first_loss, host.first_loss);
  EXPECT_EQ(device.last_loss, host.last_loss);
  EXPECT_EQ(device.last_gen_loss, host.last_gen_loss);
  ASSERT_FALSE(host.last_checkpoint.empty());
  const fs::path host_ckpt = host.last_checkpoint;
  const fs::path dev_ckpt = root / "device" / "checkpoints" / host_ckpt.filename();
  int files = 0;
  for (const auto& e : fs::directory_iterator(host_ckpt)) {
    if (e.path().extension() != ".safetensors") continue;
    ++files;
    EXPECT_EQ(ReadFile(dev_ckpt / e.path().filename()), ReadFile(e.path())) << e.path().filename();
  }
  EXPECT_EQ(files, 6);  // params and optimizer state of three modules

  // Resume on the device from the device run's checkpoint: loading goes
  // through the host copies into device memory.
  train::TrainOptions again;
  again.run_dir = (root / "device").string();
  again.resume = true;
  again.progress = false;
  again.backend = &backend;
  cfg->train.steps += 2;
  auto resumed = train::TrainSingleProcess(*cfg, again);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->start_step, host.steps_run);
  EXPECT_EQ(resumed->steps_run, 2);
  fs::remove_all(root);
}

}  // namespace
}  // namespace braid
