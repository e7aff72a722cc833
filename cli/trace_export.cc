#include "cli/trace_export.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <sstream>

namespace braid::cli {

using json = nlohmann::json;

namespace {

constexpr const char* kModules[] = {"encoder", "llm", "generator"};

int ModulePid(const std::string& module) {
  for (int i = 0; i < 3; ++i)
    if (module == kModules[i]) return i + 1;
  return 4;  // unknown modules share one process
}

bool ParseInt(const std::string& s, int64_t* out) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 18) return false;
  *out = std::stoll(s);
  return true;
}

}  // namespace

Status ParseStepRange(const std::string& text, int64_t* first, int64_t* last) {
  const size_t colon = text.find(':');
  const std::string a = text.substr(0, colon);
  const std::string b = colon == std::string::npos ? a : text.substr(colon + 1);
  int64_t x = 0, y = std::numeric_limits<int64_t>::max();
  if (!ParseInt(a, &x) || (!b.empty() && !ParseInt(b, &y)) || (colon == std::string::npos && b.empty()))
    return Status::InvalidArgument("--steps '" + text + "': expected A:B, A or A: (step numbers)");
  if (y < x) return Status::InvalidArgument("--steps '" + text + "': the range is empty");
  *first = x;
  *last = y;
  return Status::Ok();
}

StatusOr<std::string> TimelineToChromeTrace(const std::string& jsonl, int64_t first, int64_t last) {
  json events = json::array();
  std::map<std::pair<int, int>, std::string> tracks;  // (pid, tid) -> name
  std::istringstream in(jsonl);
  std::string line;
  int lineno = 0;
  double t0 = -1;
  int64_t kept = 0, seen_min = -1, seen_max = -1;
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("timeline.jsonl line " + std::to_string(lineno) + ": " + why);
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    if (!j.contains("step") || !j["step"].is_number_integer()) return bad("no integer \"step\"");
    if (!j.contains("ranks") || !j["ranks"].is_array()) return bad("no \"ranks\" array");
    const int64_t step = j["step"].get<int64_t>();
    seen_min = seen_min < 0 ? step : std::min(seen_min, step);
    seen_max = std::max(seen_max, step);
    if (step < first || step > last) continue;
    ++kept;
    const double start_unix = j.value("start_unix", 0.0);
    if (t0 < 0) t0 = start_unix;
    for (const json& r : j["ranks"]) {
      if (!r.is_object() || !r.contains("spans") || !r["spans"].is_array()) return bad("a rank without \"spans\"");
      const std::string module = r.value("module", "unknown");
      const int pid = ModulePid(module), tid = r.value("rank", 0);
      tracks[{pid, tid}] = module + " rank " + std::to_string(tid);
      const double base = start_unix - t0 + r.value("start", 0.0);
      events.push_back({{"name", "step " + std::to_string(step)},
                        {"cat", "step"},
                        {"ph", "X"},
                        {"pid", pid},
                        {"tid", tid},
                        {"ts", base * 1e6},
                        {"dur", r.value("seconds", 0.0) * 1e6}});
      for (const json& s : r["spans"]) {
        if (!s.is_array() || s.size() != 4 || !s[0].is_string() || !s[1].is_number() || !s[2].is_number() ||
            !s[3].is_number())
          return bad("a span is not [kind, microbatch, start, seconds]");
        const std::string kind = s[0].get<std::string>();
        const int mb = s[1].get<int>();
        json e = {{"name", mb >= 0 ? kind + " mb " + std::to_string(mb) : kind},
                  {"cat", kind},
                  {"ph", "X"},
                  {"pid", pid},
                  {"tid", tid},
                  {"ts", (base + s[2].get<double>()) * 1e6},
                  {"dur", s[3].get<double>() * 1e6},
                  {"args", {{"step", step}, {"microbatch", mb}}}};
        events.push_back(std::move(e));
      }
    }
  }
  if (kept == 0)
    return Status::NotFound(seen_min < 0 ? std::string("timeline.jsonl has no steps yet")
                                         : "no step in the range; timeline.jsonl has steps " +
                                               std::to_string(seen_min) + ".." + std::to_string(seen_max));
  for (const auto& [key, name] : tracks) {
    const int pid = key.first;
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"tid", 0},
                      {"args", {{"name", pid <= 3 ? kModules[pid - 1] : "other"}}}});
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", key.second},
                      {"args", {{"name", name}}}});
  }
  return json{{"traceEvents", events}, {"displayTimeUnit", "ms"}}.dump();
}

}  // namespace braid::cli
