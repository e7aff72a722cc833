#include "common/reorder/step_planner.h"

#include <algorithm>
#include <chrono>

namespace braid::reorder {

StepPlan PlanStep(int64_t step, const std::vector<SampleMeta>& metas, Policy policy, const PlanOptions& opt,
                  int32_t image_tokens) {
  std::vector<WorkSample> batch;
  batch.reserve(metas.size());
  for (const SampleMeta& m : metas)
    batch.push_back(WorkSampleFromPacked(m.id, m.num_images, m.tokens, m.num_gen_targets, image_tokens));
  const auto t0 = std::chrono::steady_clock::now();
  const BatchPlan bp = PlanBatch(batch, policy, opt);
  StepPlan plan;
  plan.step = step;
  plan.solve_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  PlanImbalance(batch, bp, opt, plan.imbalance);
  for (const BatchPlan::Microbatch& mb : bp.microbatches) {
    MicrobatchPlan out;
    uint32_t image_uid = 0, gen_uid = 0;
    for (size_t k = 0; k < mb.samples.size(); ++k) {
      const SampleMeta& m = metas[size_t(mb.samples[k])];
      const int32_t llm_rank = mb.llm_rank[k];
      out.samples.push_back({m.id, llm_rank});
      for (int32_t j = 0; j < m.num_images; ++j)
        out.images.push_back({m.id, j, mb.encoder_rank[k][size_t(j)], llm_rank, image_uid++});
      for (int32_t j = 0; j < m.num_gen_targets; ++j)
        out.gen.push_back({m.id, j, mb.generator_rank[k][size_t(j)], llm_rank, gen_uid++});
    }
    plan.microbatches.push_back(std::move(out));
  }
  for (const SampleMeta& m : metas) {
    plan.global_text_targets += m.text_targets;
    plan.global_gen_targets += m.num_gen_targets;
  }
  plan.global_samples = int64_t(metas.size());
  return plan;
}

}  // namespace braid::reorder
