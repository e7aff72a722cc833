#include "common/worker/shard_builder.h"

#include <unordered_map>

#include "common/base/check.h"
#include "common/base/rng.h"

namespace braid::worker {

const char* RoleName(Role r) {
  switch (r) {
    case Role::kEncoder: return "encoder";
    case Role::kLlm: return "llm";
    case Role::kGenerator: return "generator";
  }
  return "?";
}

std::vector<reorder::SampleMeta> MetasOf(const std::vector<Sample>& samples) {
  std::vector<reorder::SampleMeta> metas;
  metas.reserve(samples.size());
  for (const Sample& s : samples) {
    reorder::SampleMeta m;
    m.id = s.id;
    m.num_images = int32_t(s.images.size());
    m.num_gen_targets = int32_t(s.gen_targets.size());
    m.tokens = int64_t(s.tokens.size());
    for (int32_t t : s.targets) m.text_targets += t >= 0;
    metas.push_back(m);
  }
  return metas;
}

std::vector<RankMicrobatch> BuildRankShards(const std::vector<Sample>& samples, const reorder::StepPlan& plan,
                                            Role role, int rank, uint64_t seed) {
  std::unordered_map<int64_t, const Sample*> by_id;
  for (const Sample& s : samples) by_id[s.id] = &s;
  std::vector<RankMicrobatch> out;
  const int32_t M = int32_t(plan.microbatches.size());
  for (int32_t m = 0; m < M; ++m) {
    const reorder::MicrobatchPlan& mp = plan.microbatches[size_t(m)];
    RankMicrobatch rb;
    rb.step = plan.step;
    rb.microbatch = m;
    rb.microbatches = M;
    rb.global_text_targets = plan.global_text_targets;
    rb.global_gen_targets = plan.global_gen_targets;
    rb.global_samples = plan.global_samples;
    // What LLM rank 0 reports for the whole step (the orchestrator reads only its report).
    if (role == Role::kLlm && rank == 0 && m == 0) {
      for (const Sample& s : samples) rb.step_sample_ids.push_back(s.id);  // the ledger keeps sampling order
      rb.plan_solve_ms = plan.solve_ms;
      if (plan.imbalance[0] > 0) rb.plan_imbalance.assign(plan.imbalance, plan.imbalance + 3);
    }
    switch (role) {
      case Role::kEncoder:
        for (const reorder::ImageUnit* u : reorder::ImagesOfEncoderRank(mp, rank)) {
          const Sample* s = by_id.at(u->sample_id);
          rb.images.push_back({u->uid, u->sample_id, u->index, u->llm_rank, s->images[size_t(u->index)]});
        }
        break;
      case Role::kLlm: {
        // Units of this microbatch by (sample, index), to look up uids and ranks.
        std::unordered_map<int64_t, std::vector<const reorder::ImageUnit*>> imgs;
        std::unordered_map<int64_t, std::vector<const reorder::GenUnit*>> gens;
        for (const auto& u : mp.images) {
          auto& v = imgs[u.sample_id];
          if (v.size() <= size_t(u.index)) v.resize(size_t(u.index) + 1);
          v[size_t(u.index)] = &u;
        }
        for (const auto& u : mp.gen) {
          auto& v = gens[u.sample_id];
          if (v.size() <= size_t(u.index)) v.resize(size_t(u.index) + 1);
          v[size_t(u.index)] = &u;
        }
        for (const reorder::SampleUnit* su : reorder::SamplesOfLlmRank(mp, rank)) {
          const Sample* s = by_id.at(su->sample_id);
          RankSample r;
          r.sample_id = s->id;
          r.tokens = s->tokens;
          r.targets = s->targets;
          for (size_t k = 0; k < s->images.size(); ++k) {
            const reorder::ImageUnit* u = imgs.at(s->id).at(k);
            r.image_uids.push_back(u->uid);
            r.image_encoder_ranks.push_back(u->encoder_rank);
          }
          for (size_t k = 0; k < s->gen_targets.size(); ++k) {
            const reorder::GenUnit* u = gens.at(s->id).at(k);
            r.gen_uids.push_back(u->uid);
            r.gen_generator_ranks.push_back(u->generator_rank);
          }
          rb.samples.push_back(std::move(r));
        }
        break;
      }
      case Role::kGenerator:
        for (const reorder::GenUnit* u : reorder::GenOfGeneratorRank(mp, rank)) {
          const Sample* s = by_id.at(u->sample_id);
          const uint64_t key = GenerationKey(seed, plan.step, u->sample_id, u->index);
          rb.gen.push_back({u->uid, u->sample_id, u->index, u->llm_rank, key, s->gen_targets[size_t(u->index)]});
        }
        break;
    }
    out.push_back(std::move(rb));
  }
  return out;
}

}  // namespace braid::worker
