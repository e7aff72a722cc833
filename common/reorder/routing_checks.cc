#include "common/reorder/routing_checks.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace braid::reorder {
namespace {

std::string S(int64_t v) { return std::to_string(v); }

std::string Where(size_t mb, const char* kind, size_t pos) {
  return "microbatch " + S(static_cast<int64_t>(mb)) + " " + kind + "[" +
         S(static_cast<int64_t>(pos)) + "]";
}

// Per-sample bookkeeping while walking the plan.
struct Seen {
  int64_t microbatch = -1;  // where the sample was placed; -1: not yet
  int32_t llm_rank = -1;
  std::vector<char> images, gen;  // one flag per unit index
};

// Shared check for image and gen units (same shape, different names).
template <typename Unit, typename ModuleRank>
Status CheckUnits(const std::vector<Unit>& units, size_t m, const char* kind, const char* module,
                  int module_dp, const std::unordered_map<int64_t, size_t>& index_of,
                  std::vector<Seen>& seen, std::vector<char> Seen::*flags,
                  ModuleRank module_rank) {
  std::vector<char> uid_used(units.size(), 0);
  for (size_t p = 0; p < units.size(); ++p) {
    const Unit& u = units[p];
    const std::string at = Where(m, kind, p) + " (sample " + S(u.sample_id) + " index " +
                           S(u.index) + ")";
    auto it = index_of.find(u.sample_id);
    if (it == index_of.end()) return Status::InvalidArgument(at + ": sample not in the batch");
    Seen& s = seen[it->second];
    if (s.microbatch != static_cast<int64_t>(m)) {
      return Status::InvalidArgument(at + ": its sample is not in this microbatch");
    }
    std::vector<char>& f = s.*flags;
    if (u.index < 0 || static_cast<size_t>(u.index) >= f.size()) {
      return Status::InvalidArgument(at + ": index out of range (sample has " +
                                     S(static_cast<int64_t>(f.size())) + ")");
    }
    if (f[static_cast<size_t>(u.index)]) return Status::InvalidArgument(at + ": duplicated");
    f[static_cast<size_t>(u.index)] = 1;
    const int32_t r = module_rank(u);
    if (r < 0 || r >= module_dp) {
      return Status::InvalidArgument(at + ": " + module + " rank " + S(r) + " out of range [0, " +
                                     S(module_dp) + ")");
    }
    if (u.llm_rank != s.llm_rank) {
      return Status::InvalidArgument(at + ": llm_rank " + S(u.llm_rank) +
                                     " differs from its sample's llm_rank " + S(s.llm_rank));
    }
    if (u.uid >= units.size()) {
      return Status::InvalidArgument(at + ": uid " + S(u.uid) + " not dense (" +
                                     S(static_cast<int64_t>(units.size())) + " units)");
    }
    if (uid_used[u.uid]) return Status::InvalidArgument(at + ": uid " + S(u.uid) + " repeated");
    uid_used[u.uid] = 1;
  }
  return Status::Ok();
}

}  // namespace

Status ValidatePlan(const StepPlan& plan, const std::vector<SampleMeta>& samples,
                    const Layout& layout) {
  if (layout.encoder_dp < 1 || layout.llm_dp < 1 || layout.generator_dp < 1) {
    return Status::InvalidArgument("layout: every DP size must be >= 1 (encoder " +
                                   S(layout.encoder_dp) + ", llm " + S(layout.llm_dp) +
                                   ", generator " + S(layout.generator_dp) + ")");
  }

  std::unordered_map<int64_t, size_t> index_of;
  index_of.reserve(samples.size());
  std::vector<Seen> seen(samples.size());
  int64_t text_targets = 0, gen_targets = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const SampleMeta& meta = samples[i];
    if (!index_of.emplace(meta.id, i).second) {
      return Status::InvalidArgument("batch: sample id " + S(meta.id) + " appears twice");
    }
    if (meta.num_images < 0 || meta.num_gen_targets < 0 || meta.text_targets < 0) {
      return Status::InvalidArgument("batch: sample " + S(meta.id) + " has a negative count");
    }
    seen[i].images.assign(static_cast<size_t>(meta.num_images), 0);
    seen[i].gen.assign(static_cast<size_t>(meta.num_gen_targets), 0);
    text_targets += meta.text_targets;
    gen_targets += meta.num_gen_targets;
  }

  for (size_t m = 0; m < plan.microbatches.size(); ++m) {
    const MicrobatchPlan& mb = plan.microbatches[m];
    for (size_t p = 0; p < mb.samples.size(); ++p) {
      const SampleUnit& u = mb.samples[p];
      const std::string at = Where(m, "samples", p) + " (sample " + S(u.sample_id) + ")";
      auto it = index_of.find(u.sample_id);
      if (it == index_of.end()) return Status::InvalidArgument(at + ": not in the batch");
      Seen& s = seen[it->second];
      if (s.microbatch >= 0) {
        return Status::InvalidArgument(at + ": duplicated (already in microbatch " +
                                       S(s.microbatch) + ")");
      }
      if (u.llm_rank < 0 || u.llm_rank >= layout.llm_dp) {
        return Status::InvalidArgument(at + ": llm rank " + S(u.llm_rank) + " out of range [0, " +
                                       S(layout.llm_dp) + ")");
      }
      s.microbatch = static_cast<int64_t>(m);
      s.llm_rank = u.llm_rank;
    }
    RETURN_IF_ERROR(CheckUnits(mb.images, m, "images", "encoder", layout.encoder_dp, index_of,
                               seen, &Seen::images,
                               [](const ImageUnit& u) { return u.encoder_rank; }));
    RETURN_IF_ERROR(CheckUnits(mb.gen, m, "gen", "generator", layout.generator_dp, index_of, seen,
                               &Seen::gen, [](const GenUnit& u) { return u.generator_rank; }));
  }

  for (size_t i = 0; i < samples.size(); ++i) {
    const Seen& s = seen[i];
    const std::string who = "sample " + S(samples[i].id);
    if (s.microbatch < 0) return Status::InvalidArgument(who + ": missing from the plan");
    for (size_t k = 0; k < s.images.size(); ++k) {
      if (!s.images[k]) {
        return Status::InvalidArgument(who + ": image " + S(static_cast<int64_t>(k)) +
                                       " missing from the plan");
      }
    }
    for (size_t k = 0; k < s.gen.size(); ++k) {
      if (!s.gen[k]) {
        return Status::InvalidArgument(who + ": gen target " + S(static_cast<int64_t>(k)) +
                                       " missing from the plan");
      }
    }
  }

  const int64_t n = static_cast<int64_t>(samples.size());
  if (plan.global_samples != n) {
    return Status::InvalidArgument("global_samples " + S(plan.global_samples) + " != " + S(n));
  }
  if (plan.global_text_targets != text_targets) {
    return Status::InvalidArgument("global_text_targets " + S(plan.global_text_targets) +
                                   " != " + S(text_targets));
  }
  if (plan.global_gen_targets != gen_targets) {
    return Status::InvalidArgument("global_gen_targets " + S(plan.global_gen_targets) + " != " +
                                   S(gen_targets));
  }
  return Status::Ok();
}

}  // namespace braid::reorder
