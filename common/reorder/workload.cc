// Workload synthesiser and samples-file reader (docs/REORDER.md, "Workloads").
//
// The synthesiser draws only 64-bit integers from std::mt19937_64 (whose
// output the standard fixes) and turns them into doubles and distributions
// with the hand-written transforms below, so a (name, count, seed) gives the
// same samples with any standard library; std:: distributions are not used
// because their algorithms are implementation-defined.
#include "common/reorder/workload.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace braid::reorder {
namespace {

using json = nlohmann::json;

// ---- Portable sampling ------------------------------------------------------

constexpr double kPi = 3.14159265358979323846;

// 64-bit FNV-1a: a stable hash (std::hash is not) to give each workload name
// its own stream for the same seed.
uint64_t Fnv1a64(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// SplitMix64 finaliser: spreads nearby seeds (0, 1, 2...) far apart before
// they seed the Mersenne Twister.
uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class Sampler {
 public:
  explicit Sampler(uint64_t seed) : rng_(seed) {}

  // Uniform in the open interval (0, 1): 53 random bits, offset by half a
  // step so logarithms never see 0.
  double Uniform() { return (double(rng_() >> 11) + 0.5) * 0x1.0p-53; }

  bool Bernoulli(double p) { return Uniform() < p; }

  // Standard normal by Box-Muller (one of the pair; simplicity over speed).
  double Normal() {
    const double u1 = Uniform(), u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
  }

  // Lognormal parameterised by its mean (not its median) and log-space sigma,
  // rounded and clamped to [lo, hi]. The clamp trims a little off the mean
  // (docs/REORDER.md lists the resulting targets).
  int64_t LognormalCount(double mean, double sigma, int64_t lo, int64_t hi) {
    const double mu = std::log(mean) - 0.5 * sigma * sigma;
    const double x = std::exp(mu + sigma * Normal());
    return std::clamp<int64_t>(int64_t(std::llround(std::min(x, double(hi)))), lo, hi);
  }

  // Gamma(shape, scale 1) by Marsaglia-Tsang; shape < 1 via the boost
  // Gamma(a) = Gamma(a + 1) * U^(1/a).
  double Gamma(double shape) {
    if (shape < 1.0) return Gamma(shape + 1.0) * std::pow(Uniform(), 1.0 / shape);
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = Normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = Uniform();
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
    }
  }

  // Poisson(lambda) by inversion, stopping at `cap` so the loop is bounded
  // even for huge lambda (exp(-lambda) underflows to 0 and the walk hits cap).
  int32_t PoissonCapped(double lambda, int32_t cap) {
    const double u = Uniform();
    double p = std::exp(-lambda), cdf = p;
    int32_t k = 0;
    while (u > cdf && k < cap) {
      ++k;
      p *= lambda / k;
      cdf += p;
    }
    return k;
  }

  // Negative binomial with the given mean and dispersion r (variance
  // mean + mean^2 / r; smaller r = heavier tail) as a gamma-Poisson mixture,
  // capped.
  int32_t NegBinomialCapped(double mean, double r, int32_t cap) {
    return PoissonCapped(Gamma(r) * mean / r, cap);
  }

 private:
  std::mt19937_64 rng_;
};

// ---- Workload shapes (numbers and sources: docs/REORDER.md) -----------------

// Visual tokens per image for every workload: CLIP ViT-L/14 at 336 px, 24 x 24
// patches, as in LLaVA-1.5. One encoder for all keeps workloads comparable.
constexpr int32_t kImageTokens = 576;

// Images per interleaved document: a few text-only documents, otherwise
// 1 + a negative binomial, capped.
struct ImageCountShape {
  double zero_fraction;  // documents with no image
  double extra_mean;     // mean of the negative binomial added to 1
  double dispersion;     // its r
  int32_t cap;           // most images in one document
};

struct TextShape {
  double mean, sigma;  // lognormal mean and log-space sigma, before clamping
  int64_t lo, hi;
};

int32_t DrawImages(Sampler& s, const ImageCountShape& shape) {
  if (s.Bernoulli(shape.zero_fraction)) return 0;
  return 1 + s.NegBinomialCapped(shape.extra_mean, shape.dispersion, shape.cap - 1);
}

int64_t DrawText(Sampler& s, const TextShape& t) { return s.LognormalCount(t.mean, t.sigma, t.lo, t.hi); }

WorkSample Sample(int32_t images, int64_t text_tokens, int32_t gen_images) {
  WorkSample w;
  w.images = images;
  w.image_tokens = kImageTokens;
  w.text_tokens = text_tokens;
  w.gen_images = gen_images;
  return w;
}

// LLaVA-1.5's 665K instruction mix: 40K of it is ShareGPT text-only chat (6%),
// longer than the image conversations, whose answers are mostly short (VQA).
// Sequences are 2048 tokens at most, so image conversations keep
// 2048 - 576 tokens for text.
WorkSample DrawLlava(Sampler& s) {
  if (s.Bernoulli(0.06)) return Sample(0, DrawText(s, {450, 0.9, 16, 2048}), 0);
  return Sample(1, DrawText(s, {110, 0.8, 8, 2048 - kImageTokens}), 0);
}

// OBELICS: 141M documents, 353M images, 115B tokens (2.5 images and 815
// tokens per document). The 3% with no image stand for documents whose images
// all failed to download or were removed (opt-outs); the cap of 30 and the
// dispersion are our choices, not published figures.
WorkSample DrawObelics(Sampler& s) {
  // (1 - 0.03) * (1 + 1.58) = 2.5 images on average.
  const int32_t images = DrawImages(s, {0.03, 1.58, 0.5, 30});
  return Sample(images, DrawText(s, {823, 1.0, 16, 8192}), 0);
}

// MMC4 (full): 101.2M documents, 571M images, 43B tokens (5.6 images and 425
// tokens per document). Zero fraction, dispersion and cap as for OBELICS:
// our choices.
WorkSample DrawMmc4(Sampler& s) {
  // (1 - 0.03) * (1 + 4.77) = 5.6 images on average.
  const int32_t images = DrawImages(s, {0.03, 4.77, 1.0, 64});
  return Sample(images, DrawText(s, {425, 0.9, 16, 8192}), 0);
}

// LAION-5B: one image and its short alt-text caption. Half the pairs are read
// the other way round, as text-to-image generation samples (no encoder input,
// one generation target), so the generator has work.
WorkSample DrawLaion(Sampler& s) {
  const int64_t caption = DrawText(s, {27, 0.5, 3, 256});
  if (s.Bernoulli(0.5)) return Sample(0, caption, 1);
  return Sample(1, caption, 0);
}

using Drawer = WorkSample (*)(Sampler&);

// The "mixed" workload: one component per sample, by these weights.
struct MixComponent {
  double weight;
  Drawer draw;
};
constexpr MixComponent kMix[] = {{0.4, DrawLlava}, {0.2, DrawObelics}, {0.1, DrawMmc4}, {0.3, DrawLaion}};

WorkSample DrawMixed(Sampler& s) {
  double u = s.Uniform();
  for (const MixComponent& c : kMix) {
    if (u < c.weight) return c.draw(s);
    u -= c.weight;
  }
  return kMix[std::size(kMix) - 1].draw(s);  // rounding left u just above 0
}

// Every workload, in WorkloadNames() order.
struct NamedDrawer {
  const char* name;
  Drawer draw;
};
constexpr NamedDrawer kDrawers[] = {
    {"llava", DrawLlava}, {"obelics", DrawObelics}, {"mmc4", DrawMmc4}, {"laion", DrawLaion}, {"mixed", DrawMixed}};

Drawer FindDrawer(const std::string& name) {
  for (const NamedDrawer& d : kDrawers)
    if (name == d.name) return d.draw;
  return nullptr;
}

std::string JoinedNames() {
  std::string out;
  for (const std::string& n : WorkloadNames()) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// ---- Samples file -----------------------------------------------------------

// Error for one line: "<source>:<line>: <message>".
Status LineError(const std::string& source, int line, const std::string& message) {
  return Status::InvalidArgument(source + ":" + std::to_string(line) + ": " + message);
}

bool IsBlank(const std::string& line) {
  return line.find_first_not_of(" \t\r\f\v") == std::string::npos;
}

// A short rendering of a bad value for error messages.
std::string Shown(const json& v) {
  std::string s = v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// Reads obj[field] as an integer in [0, max] (or [min_value, max] for ids).
// On failure returns the "<field>: <problem>" text in `problem`.
bool ReadInt(const json& obj, const char* field, int64_t min_value, int64_t max_value, int64_t* out,
             std::string* problem) {
  const std::string name = field;
  auto it = obj.find(field);
  if (it == obj.end()) {
    *problem = name + ": missing";
    return false;
  }
  if (!it->is_number_integer()) {
    *problem = name + ": must be an integer, got " + Shown(*it);
    return false;
  }
  // Unsigned JSON integers above INT64_MAX cannot be read as int64.
  if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(max_value)) {
    *problem = name + ": must be <= " + std::to_string(max_value) + ", got " + Shown(*it);
    return false;
  }
  const int64_t v = it->get<int64_t>();
  if (v < min_value) {
    *problem = name + ": must be >= " + std::to_string(min_value) + ", got " + std::to_string(v);
    return false;
  }
  if (v > max_value) {
    *problem = name + ": must be <= " + std::to_string(max_value) + ", got " + std::to_string(v);
    return false;
  }
  *out = v;
  return true;
}

// One parsed line's object as a sample, or "<field>: <problem>".
bool ReadSample(const json& obj, WorkSample* w, std::string* problem) {
  constexpr int64_t kMax32 = std::numeric_limits<int32_t>::max();
  constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
  int64_t id, images, image_tokens, text_tokens, gen_images;
  if (!ReadInt(obj, "id", std::numeric_limits<int64_t>::min(), kMax64, &id, problem) ||
      !ReadInt(obj, "images", 0, kMax32, &images, problem) ||
      !ReadInt(obj, "image_tokens", 0, kMax32, &image_tokens, problem) ||
      !ReadInt(obj, "text_tokens", 0, kMax64, &text_tokens, problem) ||
      !ReadInt(obj, "gen_images", 0, kMax32, &gen_images, problem)) {
    return false;
  }
  // llm_tokens() adds text to images * image_tokens (< 2^62): keep it in range.
  if (text_tokens > kMax64 - images * image_tokens) {
    *problem = "text_tokens: too large, text plus image tokens overflow int64";
    return false;
  }
  w->id = id;
  w->images = int32_t(images);
  w->image_tokens = int32_t(image_tokens);
  w->text_tokens = text_tokens;
  w->gen_images = int32_t(gen_images);
  return true;
}

// Parses one non-blank line; never throws (nlohmann's errors become Status).
StatusOr<WorkSample> ParseLine(const std::string& line, const std::string& source, int line_no) {
  json obj;
  try {
    obj = json::parse(line);
  } catch (const json::exception& e) {
    return LineError(source, line_no, std::string("not JSON: ") + e.what());
  }
  if (!obj.is_object()) return LineError(source, line_no, std::string("not a JSON object, got ") + obj.type_name());
  WorkSample w;
  std::string problem;
  if (!ReadSample(obj, &w, &problem)) return LineError(source, line_no, problem);
  return w;
}

}  // namespace

const std::vector<std::string>& WorkloadNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const NamedDrawer& d : kDrawers) v.push_back(d.name);
    return v;
  }();
  return names;
}

StatusOr<std::vector<WorkSample>> SynthesizeWorkload(const std::string& name, int64_t count, uint64_t seed) {
  const Drawer draw = FindDrawer(name);
  if (draw == nullptr) {
    return Status::InvalidArgument("unknown workload \"" + name + "\"; known: " + JoinedNames());
  }
  if (count < 1) return Status::InvalidArgument("workload count must be >= 1, got " + std::to_string(count));
  Sampler sampler(Mix64(seed ^ Fnv1a64(name)));
  std::vector<WorkSample> out;
  out.reserve(size_t(count));
  for (int64_t id = 0; id < count; ++id) {
    WorkSample w = draw(sampler);
    w.id = id;
    out.push_back(w);
  }
  return out;
}

StatusOr<std::vector<WorkSample>> ParseSamplesJsonl(const std::string& text, const std::string& source) {
  std::vector<WorkSample> out;
  std::unordered_map<int64_t, int> first_line_of_id;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (IsBlank(line)) continue;
    ASSIGN_OR_RETURN(WorkSample w, ParseLine(line, source, line_no));
    auto [it, inserted] = first_line_of_id.emplace(w.id, line_no);
    if (!inserted) {
      return LineError(source, line_no,
                       "id: duplicate id " + std::to_string(w.id) + " (first on line " +
                           std::to_string(it->second) + ")");
    }
    out.push_back(w);
  }
  if (out.empty()) return Status::InvalidArgument(source + ": no samples");
  return out;
}

WorkSample WorkSampleFromPacked(int64_t id, int32_t images, int64_t packed_tokens, int32_t gen_images,
                                int32_t image_tokens) {
  WorkSample w;
  w.id = id;
  w.images = images;
  w.image_tokens = image_tokens;
  w.text_tokens = std::max<int64_t>(0, packed_tokens - int64_t(images) * image_tokens);
  w.gen_images = gen_images;
  return w;
}

}  // namespace braid::reorder
