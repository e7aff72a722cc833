#include "common/reorder/cost_profile.h"

#include <algorithm>
#include <cstdio>

#include "common/config/yaml_fields.h"

namespace braid::reorder {
namespace {

// A required number of `f` (>= 0, or > 0 when `positive`).
Status ReadCost(YamlFields& f, const std::string& key, bool positive, double* out) {
  if (!f.Raw(key).IsDefined()) return Status::InvalidArgument(f.PathOf(key) + ": missing");
  RETURN_IF_ERROR(f.Double(key, out));
  if (!(*out >= 0) || (positive && !(*out > 0)))
    return Status::InvalidArgument(f.PathOf(key) + ": must be " + (positive ? "> 0" : ">= 0"));
  return Status::Ok();
}

Status ReadSection(YamlFields& root, const std::string& name, const std::vector<std::pair<std::string, double*>>& keys) {
  ASSIGN_OR_RETURN(YamlFields f, YamlFields::Open(root.Raw(name), name));
  for (const auto& [key, out] : keys) RETURN_IF_ERROR(ReadCost(f, key, false, out));
  return f.Finish();
}

}  // namespace

StatusOr<CostProfile> LoadFullCostProfile(const std::string& path) {
  auto in_file = [&](const Status& s) { return Status(s.code(), path + ": " + s.message()); };
  ASSIGN_OR_RETURN(YAML::Node doc, LoadYamlFile(path));
  StatusOr<YamlFields> root = YamlFields::Open(doc, "");
  if (!root.ok()) return in_file(root.status());
  CostProfile p;
  CostModel& c = p.cost;
  for (const char* info : {"backend", "model"}) root->Raw(info);  // informational
  Status s = root->Int("threads", &p.threads);
  if (s.ok() && p.threads < 1) s = Status::InvalidArgument("threads: must be >= 1");
  if (s.ok()) s = ReadSection(*root, "encoder", {{"linear", &c.enc_linear}, {"attention", &c.enc_attn}});
  if (s.ok()) s = ReadSection(*root, "llm", {{"linear", &c.llm_linear}, {"attention", &c.llm_attn}});
  if (s.ok()) s = ReadSection(*root, "generator", {{"target", &c.gen_target}});
  if (s.ok()) s = ReadCost(*root, "backward_ratio", true, &c.backward_ratio);
  if (s.ok() && root->Raw("speedup").IsDefined()) {
    StatusOr<YamlFields> f = YamlFields::Open(root->Raw("speedup"), "speedup");
    s = f.status();
    const char* names[3] = {"encoder", "llm", "generator"};
    for (int m = 0; m < 3 && s.ok(); ++m) s = ReadCost(*f, names[m], true, &p.speedup[m]);
    if (s.ok()) s = f->Finish();
  }
  if (s.ok() && root->Raw("runtime_overhead").IsDefined()) s = ReadCost(*root, "runtime_overhead", true, &p.runtime_overhead);
  if (s.ok()) s = root->Finish();
  if (!s.ok()) return in_file(s);
  return p;
}

StatusOr<CostModel> LoadCostProfile(const std::string& path) {
  ASSIGN_OR_RETURN(CostProfile p, LoadFullCostProfile(path));
  return p.cost;
}

std::string CostProfileYaml(const CostProfile& p, const std::string& backend, const std::string& model) {
  const CostModel& c = p.cost;
  char buf[1400];
  std::snprintf(buf, sizeof buf,
                "# braid profile: forward seconds per unit of work on this machine (docs/REORDER.md).\n"
                "# encoder image: linear*P + attention*P^2 (P = its tokens); LLM sample:\n"
                "# linear*T + attention*T^2 (T = its packed tokens); generator: per target.\n"
                "# Costs on one thread; speedup: one rank's compute on `threads` threads vs one;\n"
                "# runtime_overhead: the runtime's compute time per kernel time (1 = not calibrated).\n"
                "backend: %s\nthreads: %d\nmodel: \"%s\"\n"
                "encoder: {linear: %.6g, attention: %.6g}\n"
                "llm: {linear: %.6g, attention: %.6g}\n"
                "generator: {target: %.6g}\n"
                "backward_ratio: %.4g\n"
                "speedup: {encoder: %.4g, llm: %.4g, generator: %.4g}\n"
                "runtime_overhead: %.4g\n",
                backend.c_str(), p.threads, model.c_str(), c.enc_linear, c.enc_attn, c.llm_linear, c.llm_attn,
                c.gen_target, c.backward_ratio, p.speedup[0], p.speedup[1], p.speedup[2], p.runtime_overhead);
  return buf;
}

std::pair<double, double> FitLinearQuadratic(const std::vector<std::pair<double, double>>& points) {
  // Normal equations of y = a x + b x^2.
  double sxx = 0, sx3 = 0, sx4 = 0, sxy = 0, sx2y = 0;
  for (const auto& [x, y] : points) {
    sxx += x * x, sx3 += x * x * x, sx4 += x * x * x * x;
    sxy += x * y, sx2y += x * x * y;
  }
  const double det = sxx * sx4 - sx3 * sx3;
  double a = 0, b = 0;
  if (det > 1e-12 * sxx * sx4) {
    a = (sxy * sx4 - sx2y * sx3) / det;
    b = (sxx * sx2y - sx3 * sxy) / det;
  }
  if (det <= 1e-12 * sxx * sx4 || a < 0 || b < 0) {  // one term only: the better of the two
    const double a_only = sxx > 0 ? std::max(0.0, sxy / sxx) : 0.0;
    const double b_only = sx4 > 0 ? std::max(0.0, sx2y / sx4) : 0.0;
    double ea = 0, eb = 0;
    for (const auto& [x, y] : points) {
      ea += (y - a_only * x) * (y - a_only * x);
      eb += (y - b_only * x * x) * (y - b_only * x * x);
    }
    return ea <= eb ? std::make_pair(a_only, 0.0) : std::make_pair(0.0, b_only);
  }
  return {a, b};
}

}  // namespace braid::reorder
