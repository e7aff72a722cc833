// The data a job trains on: Fashion-MNIST + fortunes through the task mixer,
// or a user JSONL manifest. Samples are a pure function of (seed, id).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/config/job_config.h"
#include "common/data/idx.h"
#include "common/data/manifest.h"
#include "common/data/task_mixer.h"

namespace braid::train {

class TrainingData {
 public:
  static StatusOr<std::unique_ptr<TrainingData>> Load(const JobConfig& cfg);

  // Number of distinct sample ids in one epoch.
  int64_t epoch_samples() const { return epoch_samples_; }
  // Builds sample `id` (truncated to the LLM's max_seq).
  StatusOr<Sample> Make(int64_t id) const;
  const FashionMnist& fashion_mnist() const { return fm_; }
  const MixConfig& mix() const { return mix_; }

 private:
  JobConfig cfg_;
  FashionMnist fm_;
  std::vector<std::string> fortunes_;
  std::vector<ManifestSample> manifest_;
  MixConfig mix_;
  std::unique_ptr<TaskMixer> mixer_;
  int64_t epoch_samples_ = 0;
};

// MixConfig for a job (patches per image, generation slots, sizes, seed).
MixConfig MixConfigFor(const JobConfig& cfg);

}  // namespace braid::train
