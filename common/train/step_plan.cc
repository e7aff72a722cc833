#include "common/train/step_plan.h"

#include <numeric>

#include "common/base/check.h"
#include "common/base/rng.h"

namespace braid::train {

EpochSampler::EpochSampler(uint64_t seed, int64_t epoch_samples) : seed_(seed), n_(epoch_samples) {
  BRAID_CHECK(n_ > 0);
}

const std::vector<int64_t>& EpochSampler::Permutation(int64_t epoch) {
  if (epoch == cached_epoch_) return perm_;
  perm_.resize(static_cast<size_t>(n_));
  std::iota(perm_.begin(), perm_.end(), int64_t{0});
  KeyedRng rng(HashKey(seed_, 0xe90c, uint64_t(epoch)));
  for (int64_t i = n_ - 1; i > 0; --i) {
    int64_t j = int64_t(rng.Below(uint64_t(i + 1)));
    std::swap(perm_[size_t(i)], perm_[size_t(j)]);
  }
  cached_epoch_ = epoch;
  return perm_;
}

std::vector<int64_t> EpochSampler::StepIds(int64_t step, int64_t global_batch) {
  std::vector<int64_t> ids;
  ids.reserve(size_t(global_batch));
  for (int64_t b = 0; b < global_batch; ++b) {
    int64_t g = step * global_batch + b;
    ids.push_back(Permutation(g / n_)[size_t(g % n_)]);
  }
  return ids;
}

std::vector<std::vector<int64_t>> SplitMicrobatches(const std::vector<int64_t>& ids, int m) {
  BRAID_CHECK(m > 0 && ids.size() % size_t(m) == 0);
  const size_t per = ids.size() / size_t(m);
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(m));
  for (size_t i = 0; i < ids.size(); ++i) out[i / per].push_back(ids[i]);
  return out;
}

}  // namespace braid::train
