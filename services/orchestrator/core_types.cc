#include "services/orchestrator/core_types.h"

#include <chrono>

namespace braid::orchestrator {

const char* RoleName(Role r) {
  switch (r) {
    case Role::kEncoder: return "encoder";
    case Role::kLlm: return "llm";
    case Role::kGenerator: return "generator";
  }
  return "unknown";
}

bool ValidRole(int value) { return value >= 1 && value <= 3; }

const ModuleLayout& Layout::of(Role r) const {
  return r == Role::kEncoder ? encoder : r == Role::kLlm ? llm : generator;
}
ModuleLayout& Layout::of(Role r) { return r == Role::kEncoder ? encoder : r == Role::kLlm ? llm : generator; }

Layout ResolveLayout(const JobConfig& cfg) {
  Layout l;
  if (cfg.parallel.auto_layout) return l;  // the scheduler plans it (auto_layout.h)
  l.encoder = {cfg.parallel.encoder.dp, cfg.parallel.encoder.tp, cfg.parallel.encoder.pp, cfg.parallel.encoder.layers};
  l.llm = {cfg.parallel.llm.dp, cfg.parallel.llm.tp, cfg.parallel.llm.pp, cfg.parallel.llm.layers};
  l.generator = {cfg.parallel.generator.dp, cfg.parallel.generator.tp, cfg.parallel.generator.pp,
                 cfg.parallel.generator.layers};
  return l;
}

Status RuntimeSupportsLayout(const JobConfig& cfg) {
  if (cfg.parallel.auto_layout) return Status::Ok();  // the planner picks only layouts the runtime runs
  const std::pair<const char*, const ModuleParallel*> modules[] = {
      {"encoder", &cfg.parallel.encoder}, {"llm", &cfg.parallel.llm}, {"generator", &cfg.parallel.generator}};
  for (const auto& [name, l] : modules) {
    if (l->tp != 1 && std::string(name) == "generator")
      return Status::Unimplemented("parallel.generator.tp: " + std::to_string(l->tp) +
                                   ": the generator runs tp: 1 (tensor parallelism is built for the encoder and "
                                   "the LLM); set tp: 1");
    if (l->pp != 1 && std::string(name) != "llm")
      return Status::Unimplemented(std::string("parallel.") + name + ".pp: " + std::to_string(l->pp) +
                                   ": only the LLM is pipelined; set pp: 1");
  }
  return Status::Ok();
}

void ApplyLayout(const Layout& layout, JobConfig* cfg) {
  cfg->parallel.auto_layout = false;
  cfg->parallel.encoder = {layout.encoder.dp, layout.encoder.tp, layout.encoder.pp, layout.encoder.layers};
  cfg->parallel.llm = {layout.llm.dp, layout.llm.tp, layout.llm.pp, layout.llm.layers};
  cfg->parallel.generator = {layout.generator.dp, layout.generator.tp, layout.generator.pp, layout.generator.layers};
}

nlohmann::json LayoutToJson(const Layout& l) {
  nlohmann::json j;
  for (Role r : kRoles) {
    j[RoleName(r)] = {{"dp", l.of(r).dp}, {"tp", l.of(r).tp}, {"pp", l.of(r).pp}};
    if (!l.of(r).layers.empty()) j[RoleName(r)]["layers"] = l.of(r).layers;
  }
  return j;
}

bool LayoutFromJson(const nlohmann::json& j, Layout* l) {
  for (Role r : kRoles) {
    const char* name = RoleName(r);
    if (!j.is_object() || !j.contains(name) || !j[name].is_object()) return false;
    const nlohmann::json& m = j[name];
    for (const char* k : {"dp", "tp", "pp"})
      if (!m.contains(k) || !m[k].is_number_integer()) return false;
    l->of(r) = {m["dp"].get<int>(), m["tp"].get<int>(), m["pp"].get<int>(), {}};
    if (m.contains("layers")) {
      if (!m["layers"].is_array()) return false;
      for (const auto& x : m["layers"]) {
        if (!x.is_number_integer()) return false;
        l->of(r).layers.push_back(x.get<int>());
      }
    }
  }
  return true;
}

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kPending: return "PENDING";
    case JobState::kRunning: return "RUNNING";
    case JobState::kSucceeded: return "SUCCEEDED";
    case JobState::kFailed: return "FAILED";
    case JobState::kCancelled: return "CANCELLED";
    case JobState::kRecovering: return "RECOVERING";
  }
  return "UNKNOWN";
}

}  // namespace braid::orchestrator
