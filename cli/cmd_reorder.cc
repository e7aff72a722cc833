// `braid reorder`: runs every reordering policy on one global batch (a
// samples file or a synthesised workload) and reports, per policy, how well
// each module's ranks are balanced, the step's 1F1B makespan and the solve
// time (docs/REORDER.md).
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/checkpoint/durable_file.h"
#include "common/reorder/cost_profile.h"
#include "common/reorder/policies.h"

namespace braid::cli {
namespace {

struct ReorderArgs {
  std::string samples_file, synthesize;
  int64_t count = 4096;
  uint64_t seed = 0;
  int encoder_dp = 1, llm_dp = 1, generator_dp = 1, microbatches = 1;
  int64_t llm_token_cap = 0;
  std::string profile;
  bool json = false;
};

int RunReorder(const ReorderArgs& a) {
  StatusOr<std::vector<reorder::WorkSample>> batch = !a.samples_file.empty()
                                                         ? ReadSamplesFile(a.samples_file)
                                                         : reorder::SynthesizeWorkload(a.synthesize, a.count, a.seed);
  if (!batch.ok()) {
    std::fprintf(stderr, "braid reorder: %s\n", batch.status().message().c_str());
    return kExitBadInput;
  }
  const int64_t n = int64_t(batch->size());
  if (a.microbatches > n) {
    std::fprintf(stderr, "braid reorder: --microbatches %d is more than the %lld samples\n", a.microbatches,
                 (long long)n);
    return kExitBadInput;
  }
  if (a.llm_dp > n) {
    std::fprintf(stderr, "braid reorder: --llm-dp %d is more than the %lld samples\n", a.llm_dp, (long long)n);
    return kExitBadInput;
  }
  reorder::PlanOptions opt;
  opt.microbatches = a.microbatches;
  opt.layout = {a.encoder_dp, a.llm_dp, a.generator_dp};
  opt.cost = reorder::FlopCostModel(reorder::ReferenceModelShapes());
  if (!a.profile.empty()) {
    StatusOr<reorder::CostModel> c = reorder::LoadCostProfile(a.profile);
    if (!c.ok()) {
      std::fprintf(stderr, "braid reorder: --profile: %s\n", c.status().message().c_str());
      return kExitBadInput;
    }
    opt.cost = *c;
  }
  opt.seed = a.seed;
  opt.llm_token_cap = a.llm_token_cap;
  static const char* kModules[3] = {"encoder", "llm", "generator"};
  nlohmann::json out = {{"samples", n},
                        {"microbatches", a.microbatches},
                        {"dp", {{"encoder", a.encoder_dp}, {"llm", a.llm_dp}, {"generator", a.generator_dp}}},
                        {"cost_model", a.profile.empty()
                                           ? "flops (reference model: ViT-L encoder, 7B LLM, DiT-XL generator)"
                                           : "profile " + a.profile}};
  if (!a.synthesize.empty()) out["workload"] = a.synthesize;
  nlohmann::json policies = nlohmann::json::object();
  for (reorder::Policy p : reorder::AllPolicies()) {
    const auto t0 = std::chrono::steady_clock::now();
    const reorder::BatchPlan plan = reorder::PlanBatch(*batch, p, opt);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (Status s = reorder::CheckBatchPlan(*batch, plan, opt); !s.ok()) {
      std::fprintf(stderr, "braid reorder: policy %s made an invalid plan: %s\n", reorder::PolicyName(p).c_str(),
                   s.message().c_str());
      return kExitRuntime;
    }
    const reorder::PlanStats st = reorder::EvaluatePlan(*batch, plan, opt);
    nlohmann::json j;
    for (int m = 0; m < 3; ++m)
      j[kModules[m]] = {{"imbalance", st.imbalance[m]}, {"imbalance_vs_bound", st.imbalance_vs_bound[m]}};
    j["makespan"] = st.makespan;
    j["makespan_bound"] = st.makespan_bound;
    j["makespan_vs_bound"] = st.makespan_bound > 0 ? st.makespan / st.makespan_bound : 1.0;
    j["solve_ms"] = ms;
    policies[reorder::PolicyName(p)] = j;
  }
  out["policies"] = policies;
  if (a.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  std::printf("%lld samples, %d microbatches, dp encoder %d / llm %d / generator %d\n", (long long)n, a.microbatches,
              a.encoder_dp, a.llm_dp, a.generator_dp);
  std::printf("%-17s %-23s %-23s %-23s %-12s %s\n", "policy", "encoder imb (vs bound)", "llm imb (vs bound)",
              "generator imb (vs bound)", "makespan/LB", "solve ms");
  for (reorder::Policy p : reorder::AllPolicies()) {
    const nlohmann::json& j = policies[reorder::PolicyName(p)];
    std::printf("%-17s", reorder::PolicyName(p).c_str());
    for (const char* m : kModules)
      std::printf(" %6.3f (%6.3f)         ", j[m]["imbalance"].get<double>(), j[m]["imbalance_vs_bound"].get<double>());
    std::printf(" %8.3f     %8.2f\n", j["makespan_vs_bound"].get<double>(), j["solve_ms"].get<double>());
  }
  return kExitOk;
}

}  // namespace

StatusOr<std::vector<reorder::WorkSample>> ReadSamplesFile(const std::string& path) {
  StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return Status::InvalidArgument(text.status().message());  // bad input: exit 2
  return reorder::ParseSamplesJsonl(*text, path);
}

void RegisterReorder(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<ReorderArgs>();
  CLI::App* cmd = app.add_subcommand(
      "reorder",
      "Plan one global batch with every reordering policy (sequential, random, lpt_per_sample, balanced, "
      "balanced+ordered) and report per module `imbalance` (max rank load / mean, averaged over "
      "microbatches), `imbalance_vs_bound` (max rank load / a lower bound of the partition problem), the "
      "1F1B `makespan`, `makespan_bound` (a lower bound over all microbatch orders) and `solve_ms`. Costs "
      "are FLOPs of a reference model (docs/REORDER.md).");
  auto* file = cmd->add_option("--samples", a->samples_file,
                               "JSONL, one sample per line: {\"id\", \"images\", \"image_tokens\", \"text_tokens\", "
                               "\"gen_images\"}");
  auto* syn = cmd->add_option("--synthesize", a->synthesize, "a synthetic workload: llava, obelics, mmc4, laion, mixed");
  file->excludes(syn);
  cmd->add_option("--count", a->count, "samples to synthesise (the global batch)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "seed of the synthesiser and of the random policy")->capture_default_str();
  cmd->add_option("--encoder-dp", a->encoder_dp, "encoder DP size")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--llm-dp", a->llm_dp, "LLM DP size")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--generator-dp", a->generator_dp, "generator DP size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--microbatches", a->microbatches, "microbatches per global batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--llm-token-cap", a->llm_token_cap, "most tokens per LLM rank and microbatch (0 = no cap)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--profile", a->profile, "costs from a `braid profile` YAML instead of the reference model's FLOPs");
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->callback([run, a, file, syn]() {
    *run = [a, file, syn]() {
      if (file->count() == 0 && syn->count() == 0) {
        std::fprintf(stderr, "braid reorder: one of --samples or --synthesize is required\n");
        return kExitBadInput;
      }
      return RunReorder(*a);
    };
  });
}

}  // namespace braid::cli
