// Semantic checks of a JobConfig. The first problem wins; messages are one
// line, "<field.path>: <problem>", and name the field the user should edit.
#include <cstdint>
#include <filesystem>
#include <initializer_list>

#include "common/config/job_config.h"
#include "common/parallel/layout.h"
#include "common/config/yaml_fields.h"

namespace braid {
namespace {

namespace fs = std::filesystem;

Status Bad(const std::string& path, const std::string& problem) {
  return Status::InvalidArgument(path + ": " + problem);
}

Status Positive(const std::string& path, int64_t v) {
  return v > 0 ? Status::Ok() : Bad(path, "must be positive, got " + std::to_string(v));
}

Status NonNegative(const std::string& path, int v) {
  return v >= 0 ? Status::Ok() : Bad(path, "must be non-negative, got " + std::to_string(v));
}

Status NonNegative(const std::string& path, double v) {
  return v >= 0 ? Status::Ok() : Bad(path, "must be non-negative, got " + FormatDouble(v));
}

Status AtLeastOne(const std::string& path, int v) {
  return v >= 1 ? Status::Ok() : Bad(path, "must be at least 1, got " + std::to_string(v));
}

// "model.llm.heads: 6 does not divide width 128"
Status Divides(const std::string& path, int divisor, const std::string& what, int value) {
  if (value % divisor == 0) return Status::Ok();
  return Bad(path, std::to_string(divisor) + " does not divide " + what + " " + std::to_string(value));
}

// "model.encoder.image_size: 30 is not divisible by patch 7"
Status DivisibleByPatch(const std::string& path, int image_size, int patch) {
  if (image_size % patch == 0) return Status::Ok();
  return Bad(path, std::to_string(image_size) + " is not divisible by patch " + std::to_string(patch));
}

Status OneOf(const std::string& path, const std::string& v, std::initializer_list<const char*> set) {
  std::string names;
  for (const char* s : set) {
    if (v == s) return Status::Ok();
    names += names.empty() ? s : std::string(", ") + s;
  }
  return Bad(path, "must be one of " + names + ", got '" + v + "'");
}

enum class PathKind { kDirectory, kFile, kAny };

Status PathExists(const std::string& path, const std::string& p, PathKind kind) {
  if (p.empty()) return Bad(path, "must not be empty");
  std::error_code ec;
  fs::file_status st = fs::status(p, ec);
  if (!fs::exists(st)) return Bad(path, "path does not exist: " + p);
  if (kind == PathKind::kDirectory && !fs::is_directory(st)) return Bad(path, "not a directory: " + p);
  if (kind == PathKind::kFile && !fs::is_regular_file(st)) return Bad(path, "not a file: " + p);
  return Status::Ok();
}

Status ValidateName(const std::string& name) {
  if (name.empty()) return Bad("name", "must not be empty");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return Bad("name", "'" + name + "' may contain only letters, digits, '.', '_' and '-'");
  }
  return Status::Ok();
}

Status ValidateEncoder(const EncoderConfig& c) {
  const std::string p = "model.encoder.";
  RETURN_IF_ERROR(Positive(p + "image_size", c.image_size));
  RETURN_IF_ERROR(Positive(p + "channels", c.channels));
  RETURN_IF_ERROR(Positive(p + "patch", c.patch));
  RETURN_IF_ERROR(Positive(p + "width", c.width));
  RETURN_IF_ERROR(Positive(p + "layers", c.layers));
  RETURN_IF_ERROR(Positive(p + "heads", c.heads));
  RETURN_IF_ERROR(Positive(p + "mlp_ratio", c.mlp_ratio));
  RETURN_IF_ERROR(Divides(p + "heads", c.heads, "width", c.width));
  return DivisibleByPatch(p + "image_size", c.image_size, c.patch);
}

Status ValidateLlm(const LlmConfig& c) {
  const std::string p = "model.llm.";
  RETURN_IF_ERROR(Positive(p + "width", c.width));
  RETURN_IF_ERROR(Positive(p + "layers", c.layers));
  RETURN_IF_ERROR(Positive(p + "heads", c.heads));
  RETURN_IF_ERROR(Positive(p + "mlp_hidden", c.mlp_hidden));
  RETURN_IF_ERROR(Positive(p + "max_seq", c.max_seq));
  RETURN_IF_ERROR(Positive(p + "vocab", c.vocab));
  RETURN_IF_ERROR(Divides(p + "heads", c.heads, "width", c.width));
  if (c.vocab < 264) {
    return Bad(p + "vocab", "must be at least 264 (256 bytes + special tokens), got " +
                                std::to_string(c.vocab));
  }
  return Status::Ok();
}

Status ValidateGenerator(const GeneratorConfig& c, const EncoderConfig& enc) {
  const std::string p = "model.generator.";
  RETURN_IF_ERROR(Positive(p + "image_size", c.image_size));
  RETURN_IF_ERROR(Positive(p + "patch", c.patch));
  RETURN_IF_ERROR(Positive(p + "width", c.width));
  RETURN_IF_ERROR(Positive(p + "layers", c.layers));
  RETURN_IF_ERROR(Positive(p + "heads", c.heads));
  RETURN_IF_ERROR(Positive(p + "mlp_ratio", c.mlp_ratio));
  RETURN_IF_ERROR(Positive(p + "gen_slots", c.gen_slots));
  RETURN_IF_ERROR(Positive(p + "diffusion_steps", c.diffusion_steps));
  RETURN_IF_ERROR(Positive(p + "sample_steps", c.sample_steps));
  RETURN_IF_ERROR(Positive(p + "noise_samples", c.noise_samples));
  RETURN_IF_ERROR(Divides(p + "heads", c.heads, "width", c.width));
  RETURN_IF_ERROR(DivisibleByPatch(p + "image_size", c.image_size, c.patch));
  if (c.image_size != enc.image_size) {
    return Bad(p + "image_size", std::to_string(c.image_size) + " must equal model.encoder.image_size " +
                                     std::to_string(enc.image_size));
  }
  if (c.sample_steps > c.diffusion_steps) {
    return Bad(p + "sample_steps", std::to_string(c.sample_steps) + " exceeds diffusion_steps " +
                                       std::to_string(c.diffusion_steps));
  }
  return Status::Ok();
}

Status ValidateData(const DataConfig& c) {
  const std::string p = "data.";
  const MixSpec& m = c.mix;
  RETURN_IF_ERROR(NonNegative(p + "mix.caption", m.caption));
  RETURN_IF_ERROR(NonNegative(p + "mix.interleaved", m.interleaved));
  RETURN_IF_ERROR(NonNegative(p + "mix.generation", m.generation));
  RETURN_IF_ERROR(NonNegative(p + "mix.text", m.text));
  if (!(m.caption + m.interleaved + m.generation + m.text > 0)) {
    return Bad(p + "mix", "weights must not all be zero");
  }
  RETURN_IF_ERROR(Positive(p + "max_images", c.max_images));
  RETURN_IF_ERROR(Positive(p + "max_text_bytes", c.max_text_bytes));
  RETURN_IF_ERROR(Positive(p + "epoch_samples", c.epoch_samples));
  RETURN_IF_ERROR(OneOf(p + "reorder", c.reorder, {"none", "balanced", "balanced+ordered"}));
  RETURN_IF_ERROR(PathExists(p + "fashion_mnist", c.fashion_mnist, PathKind::kDirectory));
  if (m.text > 0 || m.interleaved > 0) {
    RETURN_IF_ERROR(PathExists(p + "fortunes", c.fortunes, PathKind::kAny));
  }
  if (!c.manifest.empty()) RETURN_IF_ERROR(PathExists(p + "manifest", c.manifest, PathKind::kFile));
  return Status::Ok();
}

// One caption sample with the most images must fit the LLM context:
// each image is its patches plus begin/end markers, plus 64 text tokens.
Status ValidateContext(const JobConfig& cfg) {
  const EncoderConfig& enc = cfg.model.encoder;
  const int64_t side = enc.image_size / enc.patch;
  const int64_t patches = side * side;
  const int64_t need = int64_t{cfg.data.max_images} * (patches + 2) + 64;
  if (cfg.model.llm.max_seq >= need) return Status::Ok();
  return Bad("model.llm.max_seq", std::to_string(cfg.model.llm.max_seq) + " is too short for " +
                                      std::to_string(cfg.data.max_images) + " images of " +
                                      std::to_string(patches) +
                                      " patches (data.max_images); need at least " +
                                      std::to_string(need));
}

Status ValidateTrain(const TrainConfig& c) {
  const std::string p = "train.";
  RETURN_IF_ERROR(Positive(p + "steps", c.steps));
  RETURN_IF_ERROR(Positive(p + "global_batch", c.global_batch));
  RETURN_IF_ERROR(Positive(p + "microbatches", c.microbatches));
  if (c.microbatches > c.global_batch) {
    return Bad(p + "microbatches", std::to_string(c.microbatches) + " exceeds global_batch " +
                                       std::to_string(c.global_batch));
  }
  RETURN_IF_ERROR(Divides(p + "microbatches", c.microbatches, "global_batch", c.global_batch));
  if (!(c.lr > 0)) return Bad(p + "lr", "must be positive, got " + FormatDouble(c.lr));
  RETURN_IF_ERROR(NonNegative(p + "min_lr", c.min_lr));
  if (c.min_lr > c.lr) {
    return Bad(p + "min_lr", FormatDouble(c.min_lr) + " exceeds lr " + FormatDouble(c.lr));
  }
  RETURN_IF_ERROR(NonNegative(p + "warmup_steps", c.warmup_steps));
  if (c.warmup_steps >= c.steps) {
    return Bad(p + "warmup_steps", std::to_string(c.warmup_steps) + " must be less than steps " +
                                       std::to_string(c.steps));
  }
  RETURN_IF_ERROR(OneOf(p + "schedule", c.schedule, {"cosine", "constant", "linear"}));
  RETURN_IF_ERROR(NonNegative(p + "weight_decay", c.weight_decay));
  for (auto [key, beta] : {std::pair{"beta1", c.beta1}, std::pair{"beta2", c.beta2}}) {
    if (!(beta >= 0 && beta < 1)) {
      return Bad(p + key, "must be in [0, 1), got " + FormatDouble(beta));
    }
  }
  RETURN_IF_ERROR(NonNegative(p + "grad_clip", c.grad_clip));
  RETURN_IF_ERROR(NonNegative(p + "threads", c.threads));
  return Positive(p + "log_every", c.log_every);
}

// Megatron-style TP splits heads (and the MLP); PP splits layers.
Status ValidateLayout(const std::string& module, const ModuleParallel& l, int heads, int layers) {
  const std::string p = "parallel." + module + ".";
  const std::string m = "model." + module + ".";
  RETURN_IF_ERROR(AtLeastOne(p + "dp", l.dp));
  RETURN_IF_ERROR(AtLeastOne(p + "tp", l.tp));
  RETURN_IF_ERROR(AtLeastOne(p + "pp", l.pp));
  RETURN_IF_ERROR(Divides(p + "tp", l.tp, m + "heads", heads));
  if (l.pp > layers) {
    return Bad(p + "pp", std::to_string(l.pp) + " exceeds " + m + "layers " + std::to_string(layers));
  }
  if (!l.layers.empty()) {
    if (module != "llm") return Bad(p + "layers", "only the llm is split into pipeline stages");
    StatusOr<std::vector<int>> split = parallel::SplitLayers(layers, l.pp, l.layers, p + "layers");
    if (!split.ok()) return split.status();
  }
  return Status::Ok();
}

Status ValidateParallel(const ParallelConfig& c, const ModelConfig& model) {
  RETURN_IF_ERROR(ValidateLayout("encoder", c.encoder, model.encoder.heads, model.encoder.layers));
  RETURN_IF_ERROR(ValidateLayout("llm", c.llm, model.llm.heads, model.llm.layers));
  RETURN_IF_ERROR(Divides("parallel.llm.tp", c.llm.tp, "model.llm.mlp_hidden", model.llm.mlp_hidden));
  // The ViT's MLP hidden size is mlp_ratio * width; TP splits it too.
  RETURN_IF_ERROR(Divides("parallel.encoder.tp", c.encoder.tp, "the encoder's MLP hidden size (model.encoder.mlp_ratio "
                          "* width)", model.encoder.mlp_ratio * model.encoder.width));
  return ValidateLayout("generator", c.generator, model.generator.heads, model.generator.layers);
}

Status ValidateCheckpoint(const CheckpointConfig& c) {
  RETURN_IF_ERROR(Positive("checkpoint.every", c.every));
  RETURN_IF_ERROR(Positive("checkpoint.keep", c.keep));
  if (c.dir.empty()) return Bad("checkpoint.dir", "must not be empty");
  return Status::Ok();
}

}  // namespace

Status ValidateJobConfig(const JobConfig& cfg) {
  RETURN_IF_ERROR(ValidateName(cfg.name));
  RETURN_IF_ERROR(OneOf("device", cfg.device, {"cpu", "cuda"}));
  RETURN_IF_ERROR(OneOf("precision", cfg.precision, {"fp32", "bf16"}));
  if (cfg.precision == "bf16" && cfg.device != "cuda")
    return Status::InvalidArgument("precision: bf16 needs device: cuda (the CPU computes in fp32)");
  RETURN_IF_ERROR(ValidateEncoder(cfg.model.encoder));
  RETURN_IF_ERROR(ValidateLlm(cfg.model.llm));
  RETURN_IF_ERROR(ValidateGenerator(cfg.model.generator, cfg.model.encoder));
  RETURN_IF_ERROR(ValidateData(cfg.data));
  RETURN_IF_ERROR(ValidateContext(cfg));
  RETURN_IF_ERROR(ValidateTrain(cfg.train));
  RETURN_IF_ERROR(ValidateParallel(cfg.parallel, cfg.model));
  RETURN_IF_ERROR(ValidateCheckpoint(cfg.checkpoint));
  if (cfg.reliability.max_restarts < 0) return Bad("reliability.max_restarts", "must be >= 0");
  return Status::Ok();
}

}  // namespace braid
