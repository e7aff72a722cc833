// Which samples make up global batch `step`, and how they split into
// microbatches. This in-order plan is the single-process reference; the
// reorderer issue replaces the split with balanced routing.
#pragma once

#include <cstdint>
#include <vector>

namespace braid::train {

// Sample ids of global batch `step`: position g = step*batch + b walks a
// fresh random permutation of [0, epoch_samples) every epoch (keyed by
// seed and epoch), so over an epoch every id appears exactly once.
class EpochSampler {
 public:
  EpochSampler(uint64_t seed, int64_t epoch_samples);
  std::vector<int64_t> StepIds(int64_t step, int64_t global_batch);

 private:
  const std::vector<int64_t>& Permutation(int64_t epoch);
  uint64_t seed_;
  int64_t n_;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> perm_;
};

// Contiguous split of `ids` into `m` microbatches of equal size (m divides).
std::vector<std::vector<int64_t>> SplitMicrobatches(const std::vector<int64_t>& ids, int m);

}  // namespace braid::train
