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

// `device` and `device_index` of a pool whose `workers` is read already.
Status ReadDevice(YamlFields& f, PoolSpec* p) {
  RETURN_IF_ERROR(f.String("device", &p->device));
  if (p->device != "cpu" && p->device != "cuda")
    return Status::InvalidArgument(f.PathOf("device") + ": must be one of cpu, cuda, got '" + p->device + "'");
  const std::string path = f.PathOf("device_index");
  const YAML::Node index = f.Raw("device_index");
  if (!index.IsDefined() || index.IsNull()) return Status::Ok();
  if (p->device != "cuda") return Status::InvalidArgument(path + ": only for device: cuda");
  if (index.IsSequence()) {
    RETURN_IF_ERROR(f.IntList("device_index", &p->device_index));
    if (static_cast<int>(p->device_index.size()) != p->workers)
      return Status::InvalidArgument(path + ": " + std::to_string(p->device_index.size()) + " entries for " +
                                     std::to_string(p->workers) + (p->workers == 1 ? " worker" : " workers") +
                                     " (one device per worker)");
  } else {
    int all = 0;
    RETURN_IF_ERROR(f.Int("device_index", &all));
    p->device_index.assign(p->workers, all);
  }
  for (size_t i = 0; i < p->device_index.size(); ++i)
    if (p->device_index[i] < 0)
      return Status::InvalidArgument((index.IsSequence() ? path + "[" + std::to_string(i) + "]" : path) +
                                     ": must be non-negative, got " + std::to_string(p->device_index[i]));
  return Status::Ok();
}

Status ReadPool(YamlFields& pools, const std::string& name, PoolSpec* p) {
  ASSIGN_OR_RETURN(YamlFields f, YamlFields::Open(pools.Raw(name), pools.PathOf(name)));
  RETURN_IF_ERROR(ReadCount(f, "workers", &p->workers));
  RETURN_IF_ERROR(ReadCount(f, "threads", &p->threads));
  RETURN_IF_ERROR(f.Bool("adaptive_threads", &p->adaptive_threads));
  RETURN_IF_ERROR(f.String("metrics_listen", &p->metrics_listen));
  RETURN_IF_ERROR(ReadDevice(f, p));
  return f.Finish();
}

}  // namespace

int DeviceIndexOf(const PoolSpec& p, int worker) {
  return worker < static_cast<int>(p.device_index.size()) ? p.device_index[worker] : worker;
}

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
  // Workers of the job's device; on cuda worker i of each pool uses device i.
  c.encoder.device = c.llm.device = c.generator.device = job.device;
  if (!job.parallel.auto_layout) {  // one worker per module rank: dp * tp * pp
    auto ranks = [](const ModuleParallel& p) { return p.dp * p.tp * p.pp; };
    c.encoder.workers = ranks(job.parallel.encoder);
    c.llm.workers = ranks(job.parallel.llm);
    c.generator.workers = ranks(job.parallel.generator);
  }
  return c;
}

}  // namespace braid::cli
