#include "common/worker/rank_data_proto.h"

namespace braid::worker {

void ToProto(const RankMicrobatch& in, v1::WorkerMicrobatch* out) {
  out->set_step(in.step);
  out->set_microbatch(in.microbatch);
  out->set_microbatches(in.microbatches);
  out->set_global_text_targets(in.global_text_targets);
  out->set_global_gen_targets(in.global_gen_targets);
  out->set_global_samples(in.global_samples);
  for (const RankImage& im : in.images) {
    v1::EncoderImage* p = out->add_images();
    p->set_uid(im.uid);
    p->set_sample_id(im.sample_id);
    p->set_index(im.index);
    p->set_llm_rank(im.llm_rank);
    p->mutable_pixels()->Add(im.pixels.begin(), im.pixels.end());
  }
  for (const RankSample& s : in.samples) {
    v1::LlmSample* p = out->add_samples();
    p->set_sample_id(s.sample_id);
    p->mutable_tokens()->Add(s.tokens.begin(), s.tokens.end());
    p->mutable_targets()->Add(s.targets.begin(), s.targets.end());
    p->mutable_image_uids()->Add(s.image_uids.begin(), s.image_uids.end());
    p->mutable_image_encoder_ranks()->Add(s.image_encoder_ranks.begin(), s.image_encoder_ranks.end());
    p->mutable_gen_uids()->Add(s.gen_uids.begin(), s.gen_uids.end());
    p->mutable_gen_generator_ranks()->Add(s.gen_generator_ranks.begin(), s.gen_generator_ranks.end());
  }
  for (const RankGen& g : in.gen) {
    v1::GenTarget* p = out->add_gen();
    p->set_uid(g.uid);
    p->set_sample_id(g.sample_id);
    p->set_index(g.index);
    p->set_llm_rank(g.llm_rank);
    p->set_key(g.key);
    p->mutable_pixels()->Add(g.pixels.begin(), g.pixels.end());
  }
  out->mutable_step_sample_ids()->Add(in.step_sample_ids.begin(), in.step_sample_ids.end());
  out->set_plan_solve_ms(in.plan_solve_ms);
  out->mutable_plan_imbalance()->Add(in.plan_imbalance.begin(), in.plan_imbalance.end());
}

RankMicrobatch FromProto(const v1::WorkerMicrobatch& in) {
  RankMicrobatch r;
  r.step = in.step();
  r.microbatch = in.microbatch();
  r.microbatches = in.microbatches();
  r.global_text_targets = in.global_text_targets();
  r.global_gen_targets = in.global_gen_targets();
  r.global_samples = in.global_samples();
  for (const auto& p : in.images())
    r.images.push_back({p.uid(), p.sample_id(), p.index(), p.llm_rank(), {p.pixels().begin(), p.pixels().end()}});
  for (const auto& p : in.samples()) {
    RankSample s;
    s.sample_id = p.sample_id();
    s.tokens.assign(p.tokens().begin(), p.tokens().end());
    s.targets.assign(p.targets().begin(), p.targets().end());
    s.image_uids.assign(p.image_uids().begin(), p.image_uids().end());
    s.image_encoder_ranks.assign(p.image_encoder_ranks().begin(), p.image_encoder_ranks().end());
    s.gen_uids.assign(p.gen_uids().begin(), p.gen_uids().end());
    s.gen_generator_ranks.assign(p.gen_generator_ranks().begin(), p.gen_generator_ranks().end());
    r.samples.push_back(std::move(s));
  }
  for (const auto& p : in.gen())
    r.gen.push_back(
        {p.uid(), p.sample_id(), p.index(), p.llm_rank(), p.key(), {p.pixels().begin(), p.pixels().end()}});
  r.step_sample_ids.assign(in.step_sample_ids().begin(), in.step_sample_ids().end());
  r.plan_solve_ms = in.plan_solve_ms();
  r.plan_imbalance.assign(in.plan_imbalance().begin(), in.plan_imbalance().end());
  return r;
}

v1::Module ToProtoModule(Role r) {
  switch (r) {
    case Role::kEncoder: return v1::MODULE_ENCODER;
    case Role::kLlm: return v1::MODULE_LLM;
    case Role::kGenerator: return v1::MODULE_GENERATOR;
  }
  return v1::MODULE_UNSPECIFIED;
}

bool FromProtoModule(v1::Module m, Role* out) {
  switch (m) {
    case v1::MODULE_ENCODER: *out = Role::kEncoder; return true;
    case v1::MODULE_LLM: *out = Role::kLlm; return true;
    case v1::MODULE_GENERATOR: *out = Role::kGenerator; return true;
    default: return false;
  }
}

}  // namespace braid::worker
