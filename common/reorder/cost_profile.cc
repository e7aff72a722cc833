#include "common/reorder/cost_profile.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace braid::reorder {
namespace {

Status ReadNumber(const YAML::Node& root, const std::string& path, const std::string& section,
                  const std::string& key, bool positive, double* out) {
  const std::string field = section.empty() ? key : section + "." + key;
  const YAML::Node n = section.empty() ? root[key] : root[section][key];
  if (!n) return Status::InvalidArgument(path + ": " + field + ": missing");
  try {
    *out = n.as<double>();
  } catch (const YAML::Exception&) {
    return Status::InvalidArgument(path + ": " + field + ": expected a number");
  }
  if (!(*out >= 0) || (positive && !(*out > 0)))
    return Status::InvalidArgument(path + ": " + field + ": must be " + (positive ? "> 0" : ">= 0"));
  return Status::Ok();
}

}  // namespace

StatusOr<CostModel> LoadCostProfile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(path + ": cannot open");
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root.IsMap()) return Status::InvalidArgument(path + ": expected a mapping");
  for (const char* s : {"encoder", "llm", "generator"})
    if (root[s] && !root[s].IsMap()) return Status::InvalidArgument(path + ": " + s + ": expected a mapping");
  CostModel c;
  RETURN_IF_ERROR(ReadNumber(root, path, "encoder", "linear", false, &c.enc_linear));
  RETURN_IF_ERROR(ReadNumber(root, path, "encoder", "attention", false, &c.enc_attn));
  RETURN_IF_ERROR(ReadNumber(root, path, "llm", "linear", false, &c.llm_linear));
  RETURN_IF_ERROR(ReadNumber(root, path, "llm", "attention", false, &c.llm_attn));
  RETURN_IF_ERROR(ReadNumber(root, path, "generator", "target", false, &c.gen_target));
  RETURN_IF_ERROR(ReadNumber(root, path, "", "backward_ratio", true, &c.backward_ratio));
  return c;
}

std::string CostProfileYaml(const CostModel& c, const std::string& backend, int threads, const std::string& model) {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "# braid profile: forward seconds per unit of work on this machine (docs/REORDER.md).\n"
                "# encoder image: linear*P + attention*P^2 (P = its tokens); LLM sample:\n"
                "# linear*T + attention*T^2 (T = its packed tokens); generator: per target.\n"
                "backend: %s\nthreads: %d\nmodel: \"%s\"\n"
                "encoder: {linear: %.6g, attention: %.6g}\n"
                "llm: {linear: %.6g, attention: %.6g}\n"
                "generator: {target: %.6g}\n"
                "backward_ratio: %.4g\n",
                backend.c_str(), threads, model.c_str(), c.enc_linear, c.enc_attn, c.llm_linear, c.llm_attn,
                c.gen_target, c.backward_ratio);
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
