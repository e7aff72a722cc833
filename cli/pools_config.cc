#include "cli/pools_config.h"

#include <algorithm>
#include <thread>

#include "common/config/yaml_fields.h"

namespace braid::cli {
namespace {

// A count of at least 1 (workers, threads); absent keeps the default.
Status ReadCount(YamlFields& f, const std::string& key, int* out) {
  RETURN_IF_ERROR(f.Int(key, out));
  if (*out < 1) return Status::InvalidArgument(f.PathOf(key) + ": must be at least 1, got " + std::to_string(*out));
  return Status::Ok();
}

Status ReadService(YamlFields& root, const std::string& name, ServiceSpec* s) {
  ASSIGN_OR_RETURN(YamlFields f, YamlFields::Open(root.Raw(name), root.PathOf(name)));
  RETURN_IF_ERROR(f.String("listen", &s->listen));
  RETURN_IF_ERROR(f.String("metrics_listen", &s->metrics_listen));
  RETURN_IF_ERROR(ReadCount(f, "threads", &s->threads));
  return f.Finish();
}

Status ReadPool(YamlFields& pools, const std::string& name, PoolSpec* p) {
  ASSIGN_OR_RETURN(YamlFields f, YamlFields::Open(pools.Raw(name), pools.PathOf(name)));
  RETURN_IF_ERROR(ReadCount(f, "workers", &p->workers));
  RETURN_IF_ERROR(ReadCount(f, "threads", &p->threads));
  RETURN_IF_ERROR(f.Bool("adaptive_threads", &p->adaptive_threads));
  RETURN_IF_ERROR(f.String("metrics_listen", &p->metrics_listen));
  return f.Finish();
}

}  // namespace

StatusOr<PoolsConfig> LoadPoolsConfig(const std::string& path) {
  ASSIGN_OR_RETURN(YAML::Node doc, LoadYamlFile(path));
  ASSIGN_OR_RETURN(YamlFields root, YamlFields::Open(doc, ""));
  PoolsConfig c;
  RETURN_IF_ERROR(ReadService(root, "orchestrator", &c.orchestrator));
  RETURN_IF_ERROR(ReadService(root, "reorderer", &c.reorderer));
  ASSIGN_OR_RETURN(YamlFields pools, YamlFields::Open(root.Raw("pools"), "pools"));
  RETURN_IF_ERROR(ReadPool(pools, "encoder", &c.encoder));
  RETURN_IF_ERROR(ReadPool(pools, "llm", &c.llm));
  RETURN_IF_ERROR(ReadPool(pools, "generator", &c.generator));
  RETURN_IF_ERROR(pools.Finish());
  RETURN_IF_ERROR(root.Finish());
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
  if (!job.parallel.auto_layout) {  // one worker per module rank: dp * tp * pp
    auto ranks = [](const ModuleParallel& p) { return p.dp * p.tp * p.pp; };
    c.encoder.workers = ranks(job.parallel.encoder);
    c.llm.workers = ranks(job.parallel.llm);
    c.generator.workers = ranks(job.parallel.generator);
  }
  return c;
}

}  // namespace braid::cli
