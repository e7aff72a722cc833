#include "cli/pools_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <thread>
#include <set>

namespace braid::cli {
namespace {

Status CheckKeys(const YAML::Node& n, const std::string& path, const std::set<std::string>& allowed) {
  if (!n.IsMap()) return Status::InvalidArgument(path + ": expected a mapping");
  for (const auto& kv : n) {
    const std::string k = kv.first.as<std::string>();
    if (!allowed.count(k)) return Status::InvalidArgument((path.empty() ? "" : path + ".") + k + ": unknown key");
  }
  return Status::Ok();
}

Status ReadInt(const YAML::Node& n, const std::string& key, const std::string& path, int* out) {
  if (!n[key]) return Status::Ok();
  try {
    *out = n[key].as<int>();
  } catch (const YAML::Exception&) {
    return Status::InvalidArgument(path + "." + key + ": expected an integer, got '" + n[key].as<std::string>() + "'");
  }
  if (*out < 1) return Status::InvalidArgument(path + "." + key + ": must be at least 1, got " + std::to_string(*out));
  return Status::Ok();
}

Status ReadService(const YAML::Node& root, const std::string& name, ServiceSpec* s) {
  const YAML::Node n = root[name];
  if (!n) return Status::Ok();
  RETURN_IF_ERROR(CheckKeys(n, name, {"listen", "metrics_listen", "threads"}));
  if (n["listen"]) s->listen = n["listen"].as<std::string>();
  if (n["metrics_listen"]) s->metrics_listen = n["metrics_listen"].as<std::string>();
  return ReadInt(n, "threads", name, &s->threads);
}

Status ReadPool(const YAML::Node& pools, const std::string& name, PoolSpec* p) {
  const YAML::Node n = pools[name];
  if (!n) return Status::Ok();
  const std::string path = "pools." + name;
  RETURN_IF_ERROR(CheckKeys(n, path, {"workers", "threads", "adaptive_threads"}));
  RETURN_IF_ERROR(ReadInt(n, "workers", path, &p->workers));
  if (n["adaptive_threads"]) {
    try {
      p->adaptive_threads = n["adaptive_threads"].as<bool>();
    } catch (const YAML::Exception&) {
      return Status::InvalidArgument(path + ".adaptive_threads: expected true or false, got '" +
                                     n["adaptive_threads"].as<std::string>() + "'");
    }
  }
  return ReadInt(n, "threads", path, &p->threads);
}

}  // namespace

StatusOr<PoolsConfig> LoadPoolsConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(path + ": cannot open");
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                                   ": " + e.msg);
  }
  PoolsConfig c;
  RETURN_IF_ERROR(CheckKeys(root, "", {"orchestrator", "reorderer", "pools"}));
  RETURN_IF_ERROR(ReadService(root, "orchestrator", &c.orchestrator));
  RETURN_IF_ERROR(ReadService(root, "reorderer", &c.reorderer));
  if (root["pools"]) {
    RETURN_IF_ERROR(CheckKeys(root["pools"], "pools", {"encoder", "llm", "generator"}));
    RETURN_IF_ERROR(ReadPool(root["pools"], "encoder", &c.encoder));
    RETURN_IF_ERROR(ReadPool(root["pools"], "llm", &c.llm));
    RETURN_IF_ERROR(ReadPool(root["pools"], "generator", &c.generator));
  }
  return c;
}

PoolsConfig PoolsForJob(const JobConfig& job) {
  PoolsConfig c;
  // The LLM is most of the work and the critical path: its workers may widen
  // onto every core the encoder and generator workers leave idle
  // (docs/PERFORMANCE.md, "Sharing cores"); those compute on one thread.
  c.encoder.threads = c.generator.threads = 1;
  c.llm.threads = std::max(1, int(std::thread::hardware_concurrency()));
  c.llm.adaptive_threads = true;
  if (!job.parallel.auto_layout) {
    c.encoder.workers = job.parallel.encoder.dp;
    c.llm.workers = job.parallel.llm.dp;
    c.generator.workers = job.parallel.generator.dp;
  }
  return c;
}

}  // namespace braid::cli
