#include "common/reorder/in_order_router.h"

#include "common/base/check.h"
#include "common/reorder/step_planner.h"

namespace braid::reorder {

int32_t ContiguousRank(int64_t i, int64_t n, int ranks) {
  BRAID_CHECK(ranks >= 1);
  BRAID_CHECK(i >= 0 && i < n);
  const int64_t q = n / ranks, r = n % ranks;
  const int64_t big = r * (q + 1);  // units held by the first r ranks (q+1 each)
  if (i < big) return static_cast<int32_t>(i / (q + 1));
  return static_cast<int32_t>(r + (i - big) / q);  // q >= 1 here since i < n
}

StepPlan PlanInOrder(int64_t step, const std::vector<SampleMeta>& samples, int microbatches,
                     const Layout& layout) {
  BRAID_CHECK(microbatches >= 1);
  BRAID_CHECK(layout.encoder_dp >= 1 && layout.llm_dp >= 1 && layout.generator_dp >= 1);
  const int64_t total = static_cast<int64_t>(samples.size());
  BRAID_CHECK_MSG(total % microbatches == 0, "%lld samples in %d microbatches",
                  static_cast<long long>(total), microbatches);
  for (const SampleMeta& meta : samples)
    BRAID_CHECK(meta.num_images >= 0 && meta.num_gen_targets >= 0 && meta.text_targets >= 0);
  // The sequential policy is this routing (contiguous equal microbatches,
  // units spread by ContiguousRank); costs do not enter it.
  PlanOptions opt;
  opt.microbatches = microbatches;
  opt.layout = layout;
  return PlanStep(step, samples, Policy::kSequential, opt, /*image_tokens=*/0);
}

}  // namespace braid::reorder
