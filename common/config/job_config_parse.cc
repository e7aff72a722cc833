// YAML text -> JobConfig: structure and types here, semantics in
// job_config_validate.cc.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/eventhandler.h>

#include "common/config/job_config.h"
#include "common/config/yaml_fields.h"

namespace braid {
namespace {

// Opens `key` of `parent` as a sub-mapping.
StatusOr<YamlFields> Section(YamlFields& parent, const std::string& key) {
  return YamlFields::Open(parent.Raw(key), parent.PathOf(key));
}

Status ParseEncoder(YamlFields& model, EncoderConfig* c) {
  ASSIGN_OR_RETURN(YamlFields f, Section(model, "encoder"));
  RETURN_IF_ERROR(f.Int("image_size", &c->image_size));
  RETURN_IF_ERROR(f.Int("channels", &c->channels));
  RETURN_IF_ERROR(f.Int("patch", &c->patch));
  RETURN_IF_ERROR(f.Int("width", &c->width));
  RETURN_IF_ERROR(f.Int("layers", &c->layers));
  RETURN_IF_ERROR(f.Int("heads", &c->heads));
  RETURN_IF_ERROR(f.Int("mlp_ratio", &c->mlp_ratio));
  return f.Finish();
}

Status ParseLlm(YamlFields& model, LlmConfig* c) {
  ASSIGN_OR_RETURN(YamlFields f, Section(model, "llm"));
  RETURN_IF_ERROR(f.Int("width", &c->width));
  RETURN_IF_ERROR(f.Int("layers", &c->layers));
  RETURN_IF_ERROR(f.Int("heads", &c->heads));
  RETURN_IF_ERROR(f.Int("mlp_hidden", &c->mlp_hidden));
  RETURN_IF_ERROR(f.Int("max_seq", &c->max_seq));
  RETURN_IF_ERROR(f.Int("vocab", &c->vocab));
  return f.Finish();
}

Status ParseGenerator(YamlFields& model, GeneratorConfig* c) {
  ASSIGN_OR_RETURN(YamlFields f, Section(model, "generator"));
  RETURN_IF_ERROR(f.Int("image_size", &c->image_size));
  RETURN_IF_ERROR(f.Int("patch", &c->patch));
  RETURN_IF_ERROR(f.Int("width", &c->width));
  RETURN_IF_ERROR(f.Int("layers", &c->layers));
  RETURN_IF_ERROR(f.Int("heads", &c->heads));
  RETURN_IF_ERROR(f.Int("mlp_ratio", &c->mlp_ratio));
  RETURN_IF_ERROR(f.Int("gen_slots", &c->gen_slots));
  RETURN_IF_ERROR(f.Int("diffusion_steps", &c->diffusion_steps));
  RETURN_IF_ERROR(f.Int("sample_steps", &c->sample_steps));
  RETURN_IF_ERROR(f.Int("noise_samples", &c->noise_samples));
  return f.Finish();
}

Status ParseModel(YamlFields& root, ModelConfig* c) {
  ASSIGN_OR_RETURN(YamlFields f, Section(root, "model"));
  RETURN_IF_ERROR(ParseEncoder(f, &c->encoder));
  RETURN_IF_ERROR(ParseLlm(f, &c->llm));
  RETURN_IF_ERROR(ParseGenerator(f, &c->generator));
  return f.Finish();
}

Status ParseData(YamlFields& root, DataConfig* c) {
  ASSIGN_OR_RETURN(YamlFields f, Section(root, "data"));
  RETURN_IF_ERROR(f.String("fashion_mnist", &c->fashion_mnist));
  RETURN_IF_ERROR(f.String("fortunes", &c->fortunes));
  RETURN_IF_ERROR(f.String("manifest", &c->manifest));
  {
    ASSIGN_OR_RETURN(YamlFields mix, Section(f, "mix"));
    RETURN_IF_ERROR(mix.Double("caption", &c->mix.caption));
    RETURN_IF_ERROR(mix.Double("interleaved", &c->mix.interleaved));
    RETURN_IF_ERROR(mix.Double("generation", &c->mix.generation));
    RETURN_IF_ERROR(mix.Double("text", &c->mix.text));
    RETURN_IF_ERROR(mix.Finish());
  }
  RETURN_IF_ERROR(f.Int("max_images", &c->max_images));
  RETURN_IF_ERROR(f.Int("max_text_bytes", &c->max_text_bytes));
  RETURN_IF_ERROR(f.Int64("epoch_samples", &c->epoch_samples));
  RETURN_IF_ERROR(f.String("reorder", &c->reorder));
  RETURN_IF_ERROR(f.String("reorder_profile", &c->reorder_profile));
  return f.Finish();
}

Status ParseTrain(YamlFields& root, TrainConfig* c) {
  ASSIGN_OR_RETURN(YamlFields f, Section(root, "train"));
  RETURN_IF_ERROR(f.Int("steps", &c->steps));
  RETURN_IF_ERROR(f.Int("global_batch", &c->global_batch));
  RETURN_IF_ERROR(f.Int("microbatches", &c->microbatches));
  RETURN_IF_ERROR(f.Double("lr", &c->lr));
  RETURN_IF_ERROR(f.Double("min_lr", &c->min_lr));
  RETURN_IF_ERROR(f.Int("warmup_steps", &c->warmup_steps));
  RETURN_IF_ERROR(f.String("schedule", &c->schedule));
  RETURN_IF_ERROR(f.Double("weight_decay", &c->weight_decay));
  RETURN_IF_ERROR(f.Double("beta1", &c->beta1));
  RETURN_IF_ERROR(f.Double("beta2", &c->beta2));
  RETURN_IF_ERROR(f.Double("grad_clip", &c->grad_clip));
  RETURN_IF_ERROR(f.Int("threads", &c->threads));
  RETURN_IF_ERROR(f.Int("log_every", &c->log_every));
  return f.Finish();
}

Status ParseModuleParallel(YamlFields& parallel, const std::string& key, ModuleParallel* c) {
  ASSIGN_OR_RETURN(YamlFields f, Section(parallel, key));
  RETURN_IF_ERROR(f.Int("dp", &c->dp));
  RETURN_IF_ERROR(f.Int("tp", &c->tp));
  RETURN_IF_ERROR(f.Int("pp", &c->pp));
  RETURN_IF_ERROR(f.IntList("layers", &c->layers));
  return f.Finish();
}

Status ParseParallel(YamlFields& root, ParallelConfig* c) {
  YAML::Node node = root.Raw("parallel");
  // `parallel: auto` is shorthand for {auto_layout: true}.
  if (node.IsScalar() && node.Tag() != "!") {
    if (node.Scalar() != "auto") {
      return Status::InvalidArgument("parallel: expected a mapping or 'auto', got '" +
                                     node.Scalar() + "'");
    }
    c->auto_layout = true;
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(YamlFields f, YamlFields::Open(node, "parallel"));
  RETURN_IF_ERROR(f.Bool("auto_layout", &c->auto_layout));
  RETURN_IF_ERROR(ParseModuleParallel(f, "encoder", &c->encoder));
  RETURN_IF_ERROR(ParseModuleParallel(f, "llm", &c->llm));
  RETURN_IF_ERROR(ParseModuleParallel(f, "generator", &c->generator));
  return f.Finish();
}

Status ParseCheckpoint(YamlFields& root, CheckpointConfig* c) {
  ASSIGN_OR_RETURN(YamlFields f, Section(root, "checkpoint"));
  RETURN_IF_ERROR(f.Int("every", &c->every));
  RETURN_IF_ERROR(f.Int("keep", &c->keep));
  RETURN_IF_ERROR(f.String("dir", &c->dir));
  RETURN_IF_ERROR(f.String("resume_from", &c->resume_from));
  return f.Finish();
}

Status ParseReliability(YamlFields& root, ReliabilityConfig* c) {
  ASSIGN_OR_RETURN(YamlFields f, Section(root, "reliability"));
  RETURN_IF_ERROR(f.Int("max_restarts", &c->max_restarts));
  return f.Finish();
}

Status ParseRoot(const YAML::Node& doc, JobConfig* cfg) {
  ASSIGN_OR_RETURN(YamlFields root, YamlFields::Open(doc, ""));
  RETURN_IF_ERROR(root.String("name", &cfg->name));
  RETURN_IF_ERROR(root.Uint64("seed", &cfg->seed));
  RETURN_IF_ERROR(root.String("device", &cfg->device));
  RETURN_IF_ERROR(root.String("precision", &cfg->precision));
  RETURN_IF_ERROR(ParseModel(root, &cfg->model));
  RETURN_IF_ERROR(ParseData(root, &cfg->data));
  RETURN_IF_ERROR(ParseTrain(root, &cfg->train));
  RETURN_IF_ERROR(ParseParallel(root, &cfg->parallel));
  RETURN_IF_ERROR(ParseCheckpoint(root, &cfg->checkpoint));
  RETURN_IF_ERROR(ParseReliability(root, &cfg->reliability));
  return root.Finish();
}

constexpr size_t kMaxYamlDocuments = 16;

// Parser events nobody needs: ParseJobConfig only counts the documents.
class IgnoreYamlEvents final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

StatusOr<JobConfig> ParseJobConfig(const std::string& yaml_text, const std::string& source_name) {
  std::vector<YAML::Node> docs;
  try {
    // Counted first, with a cap: YAML::LoadAll never returns on some input
    // (yaml-cpp 0.7 yields empty documents forever for a lone ",", found by
    // fuzz/job_yaml_fuzz.cc).
    std::istringstream in(yaml_text);
    YAML::Parser parser(in);
    IgnoreYamlEvents ignore;
    size_t count = 0;
    while (count <= kMaxYamlDocuments && parser.HandleNextDocument(ignore)) ++count;
    if (count != 1) {
      return Status::InvalidArgument(source_name + ": expected one YAML document, got " +
                                     (count > kMaxYamlDocuments ? "more than " + std::to_string(kMaxYamlDocuments)
                                                                : std::to_string(count)));
    }
    docs.push_back(YAML::Load(yaml_text));
  } catch (const YAML::Exception& e) {
    return YamlSyntaxError(source_name, e);
  }
  if (!docs[0].IsMap()) {
    return Status::InvalidArgument(source_name + ": expected a mapping at the top level, got " +
                                   DescribeYamlNode(docs[0]));
  }
  JobConfig cfg;
  RETURN_IF_ERROR(ParseRoot(docs[0], &cfg));
  RETURN_IF_ERROR(ValidateJobConfig(cfg));
  return cfg;
}

StatusOr<JobConfig> LoadJobConfig(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument(path + ": cannot open (is a directory)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument(path + ": cannot read");
  return ParseJobConfig(text.str(), path);
}

}  // namespace braid
