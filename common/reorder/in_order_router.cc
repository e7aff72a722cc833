#include "common/reorder/in_order_router.h"

#include <limits>

#include "common/base/check.h"

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
  const int64_t per_mb = total / microbatches;

  StepPlan plan;
  plan.step = step;
  plan.global_samples = total;
  plan.microbatches.resize(static_cast<size_t>(microbatches));
  for (int m = 0; m < microbatches; ++m) {
    MicrobatchPlan& mb = plan.microbatches[static_cast<size_t>(m)];
    const size_t begin = static_cast<size_t>(m * per_mb);
    const size_t end = begin + static_cast<size_t>(per_mb);

    int64_t n_images = 0, n_gen = 0;
    for (size_t s = begin; s < end; ++s) {
      const SampleMeta& meta = samples[s];
      BRAID_CHECK(meta.num_images >= 0 && meta.num_gen_targets >= 0 && meta.text_targets >= 0);
      n_images += meta.num_images;
      n_gen += meta.num_gen_targets;
      plan.global_text_targets += meta.text_targets;
      plan.global_gen_targets += meta.num_gen_targets;
    }
    BRAID_CHECK(n_images <= std::numeric_limits<uint32_t>::max());
    BRAID_CHECK(n_gen <= std::numeric_limits<uint32_t>::max());

    mb.samples.reserve(static_cast<size_t>(per_mb));
    mb.images.reserve(static_cast<size_t>(n_images));
    mb.gen.reserve(static_cast<size_t>(n_gen));
    int64_t image_i = 0, gen_i = 0;
    for (size_t s = begin; s < end; ++s) {
      const SampleMeta& meta = samples[s];
      const int32_t llm_rank =
          ContiguousRank(static_cast<int64_t>(s - begin), per_mb, layout.llm_dp);
      mb.samples.push_back({meta.id, llm_rank});
      for (int32_t k = 0; k < meta.num_images; ++k, ++image_i) {
        mb.images.push_back({meta.id, k, ContiguousRank(image_i, n_images, layout.encoder_dp),
                             llm_rank, static_cast<uint32_t>(image_i)});
      }
      for (int32_t k = 0; k < meta.num_gen_targets; ++k, ++gen_i) {
        mb.gen.push_back({meta.id, k, ContiguousRank(gen_i, n_gen, layout.generator_dp), llm_rank,
                          static_cast<uint32_t>(gen_i)});
      }
    }
  }
  return plan;
}

}  // namespace braid::reorder
