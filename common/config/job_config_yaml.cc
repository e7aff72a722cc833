// JobConfig -> YAML: the resolved spec (RUN_DIR/job.yaml). Every field is
// written so that ParseJobConfig(JobConfigToYaml(c)) == c.
#include <cstdio>
#include <sstream>

#include "common/config/job_config.h"
#include "common/config/yaml_fields.h"

namespace braid {
namespace {

// Always double-quoted, so names like "null", "123" or "a: b" survive.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

class Writer {
 public:
  void Section(int indent, const char* key) { Line(indent, key, ""); }
  void Field(int indent, const char* key, int64_t v) { Line(indent, key, std::to_string(v)); }
  void Field(int indent, const char* key, uint64_t v) { Line(indent, key, std::to_string(v)); }
  void Field(int indent, const char* key, int v) { Line(indent, key, std::to_string(v)); }
  void Field(int indent, const char* key, double v) { Line(indent, key, FormatDouble(v)); }
  void Field(int indent, const char* key, bool v) { Line(indent, key, v ? "true" : "false"); }
  void Field(int indent, const char* key, const std::string& v) { Line(indent, key, Quote(v)); }
  void Layout(int indent, const char* key, const ModuleParallel& l) {
    std::string layers;
    for (size_t i = 0; i < l.layers.size(); ++i) layers += (i ? ", " : "") + std::to_string(l.layers[i]);
    Line(indent, key, "{dp: " + std::to_string(l.dp) + ", tp: " + std::to_string(l.tp) +
                          ", pp: " + std::to_string(l.pp) + (layers.empty() ? "" : ", layers: [" + layers + "]") + "}");
  }
  std::string str() const { return out_.str(); }

 private:
  void Line(int indent, const char* key, const std::string& value) {
    out_ << std::string(2 * indent, ' ') << key << ":";
    if (!value.empty()) out_ << " " << value;
    out_ << "\n";
  }
  std::ostringstream out_;
};

}  // namespace

std::string JobConfigToYaml(const JobConfig& cfg) {
  Writer w;
  w.Field(0, "name", cfg.name);
  w.Field(0, "seed", cfg.seed);
  w.Field(0, "device", cfg.device);
  w.Field(0, "precision", cfg.precision);

  const ModelConfig& m = cfg.model;
  w.Section(0, "model");
  w.Section(1, "encoder");
  w.Field(2, "image_size", m.encoder.image_size);
  w.Field(2, "channels", m.encoder.channels);
  w.Field(2, "patch", m.encoder.patch);
  w.Field(2, "width", m.encoder.width);
  w.Field(2, "layers", m.encoder.layers);
  w.Field(2, "heads", m.encoder.heads);
  w.Field(2, "mlp_ratio", m.encoder.mlp_ratio);
  w.Section(1, "llm");
  w.Field(2, "width", m.llm.width);
  w.Field(2, "layers", m.llm.layers);
  w.Field(2, "heads", m.llm.heads);
  w.Field(2, "mlp_hidden", m.llm.mlp_hidden);
  w.Field(2, "max_seq", m.llm.max_seq);
  w.Field(2, "vocab", m.llm.vocab);
  w.Section(1, "generator");
  w.Field(2, "image_size", m.generator.image_size);
  w.Field(2, "patch", m.generator.patch);
  w.Field(2, "width", m.generator.width);
  w.Field(2, "layers", m.generator.layers);
  w.Field(2, "heads", m.generator.heads);
  w.Field(2, "mlp_ratio", m.generator.mlp_ratio);
  w.Field(2, "gen_slots", m.generator.gen_slots);
  w.Field(2, "diffusion_steps", m.generator.diffusion_steps);
  w.Field(2, "sample_steps", m.generator.sample_steps);
  w.Field(2, "noise_samples", m.generator.noise_samples);

  const DataConfig& d = cfg.data;
  w.Section(0, "data");
  w.Field(1, "fashion_mnist", d.fashion_mnist);
  w.Field(1, "fortunes", d.fortunes);
  w.Field(1, "manifest", d.manifest);
  w.Section(1, "mix");
  w.Field(2, "caption", d.mix.caption);
  w.Field(2, "interleaved", d.mix.interleaved);
  w.Field(2, "generation", d.mix.generation);
  w.Field(2, "text", d.mix.text);
  w.Field(1, "max_images", d.max_images);
  w.Field(1, "max_text_bytes", d.max_text_bytes);
  w.Field(1, "epoch_samples", d.epoch_samples);
  w.Field(1, "reorder", d.reorder);
  w.Field(1, "reorder_profile", d.reorder_profile);

  const TrainConfig& t = cfg.train;
  w.Section(0, "train");
  w.Field(1, "steps", t.steps);
  w.Field(1, "global_batch", t.global_batch);
  w.Field(1, "microbatches", t.microbatches);
  w.Field(1, "lr", t.lr);
  w.Field(1, "min_lr", t.min_lr);
  w.Field(1, "warmup_steps", t.warmup_steps);
  w.Field(1, "schedule", t.schedule);
  w.Field(1, "weight_decay", t.weight_decay);
  w.Field(1, "beta1", t.beta1);
  w.Field(1, "beta2", t.beta2);
  w.Field(1, "grad_clip", t.grad_clip);
  w.Field(1, "threads", t.threads);
  w.Field(1, "log_every", t.log_every);

  w.Section(0, "parallel");
  w.Field(1, "auto_layout", cfg.parallel.auto_layout);
  w.Layout(1, "encoder", cfg.parallel.encoder);
  w.Layout(1, "llm", cfg.parallel.llm);
  w.Layout(1, "generator", cfg.parallel.generator);

  w.Section(0, "checkpoint");
  w.Field(1, "every", cfg.checkpoint.every);
  w.Field(1, "keep", cfg.checkpoint.keep);
  w.Field(1, "dir", cfg.checkpoint.dir);
  w.Field(1, "resume_from", cfg.checkpoint.resume_from);

  w.Section(0, "reliability");
  w.Field(1, "max_restarts", cfg.reliability.max_restarts);
  return w.str();
}

}  // namespace braid
