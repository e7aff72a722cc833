#include "common/data/task_mixer.h"

#include <algorithm>

#include "common/data/image_io.h"
#include "common/data/tokenizer.h"

namespace braid {
namespace {

constexpr uint64_t kMixStream = 0x7461736b6d6978ULL;  // "taskmix"

constexpr const char* kConnectives[] = {"Next, ", "Here is ", "Look: ", "Then ", "And here, ", "This is "};
constexpr size_t kNumConnectives = sizeof(kConnectives) / sizeof(kConnectives[0]);

std::string TrimRight(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

TaskMixer::TaskMixer(const FashionMnist* fm, const std::vector<std::string>* fortunes, MixConfig cfg)
    : fm_(fm), fortunes_(fortunes), cfg_(cfg) {
  cfg_.max_images = std::max(cfg_.max_images, 1);
  cfg_.max_text_bytes = std::max(cfg_.max_text_bytes, 1);
  cfg_.patches_per_image = std::max(cfg_.patches_per_image, 0);
  cfg_.gen_slots = std::max(cfg_.gen_slots, 0);
  cfg_.image_size = std::max(cfg_.image_size, 1);
  if (fm_ != nullptr) {
    const IdxImages& im = fm_->train_images;
    train_count_ = std::min<int64_t>(im.count, static_cast<int64_t>(fm_->train_labels.size()));
    if (im.rows <= 0 || im.cols <= 0) train_count_ = 0;
    for (int64_t i = 0; i < train_count_; ++i) {
      const int label = fm_->train_labels[static_cast<size_t>(i)];
      if (label < kFashionClasses) by_class_[label].push_back(i);
    }
  }
  const bool have_images = train_count_ > 0;
  const bool have_text = fortunes_ != nullptr && !fortunes_->empty();
  const double w[4] = {have_images ? std::max(cfg_.caption, 0.0) : 0.0,
                       have_images ? std::max(cfg_.interleaved, 0.0) : 0.0,
                       have_images ? std::max(cfg_.generation, 0.0) : 0.0,
                       have_text ? std::max(cfg_.text, 0.0) : 0.0};
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    sum += w[i];
    cumulative_[i] = sum;
  }
  for (double& c : cumulative_) c = sum > 0 ? c / sum : 0.0;
}

std::vector<float> TaskMixer::TrainPixels(int64_t index) const {
  const IdxImages& im = fm_->train_images;
  GrayImage g;
  g.width = static_cast<int>(im.cols);
  g.height = static_cast<int>(im.rows);
  const size_t n = static_cast<size_t>(im.rows * im.cols);
  const uint8_t* p = im.pixels.data() + static_cast<size_t>(index) * n;
  g.pixels.resize(n);
  for (size_t i = 0; i < n; ++i) g.pixels[i] = p[i] * (1.0f / 255.0f);
  if (g.width == cfg_.image_size && g.height == cfg_.image_size) return std::move(g.pixels);
  return ResizeBilinear(g, cfg_.image_size, cfg_.image_size).pixels;
}

void TaskMixer::AddImage(int64_t index, Sample* s) const {
  AppendImageBlock(&s->tokens, cfg_.patches_per_image);
  s->images.push_back(TrainPixels(index));
  s->image_labels.push_back(fm_->train_labels[static_cast<size_t>(index)]);
}

std::string TaskMixer::Fortune(KeyedRng& rng, size_t max_bytes) const {
  if (fortunes_ == nullptr || fortunes_->empty()) return "";
  std::string f = (*fortunes_)[rng.Below(fortunes_->size())];
  if (f.size() > max_bytes) {
    // Cut at a word boundary when one is reasonably close.
    size_t cut = max_bytes;
    const size_t space = f.rfind(' ', max_bytes);
    if (space != std::string::npos && space >= max_bytes / 2) cut = space;
    f = TrimRight(f.substr(0, cut));
  }
  return f;
}

void TaskMixer::MakeCaption(KeyedRng& rng, Sample* s) const {
  s->task = "caption";
  int k = 1;
  if (cfg_.max_images >= 2 && rng.Uniform() >= 0.5) k = 2 + static_cast<int>(rng.Below(cfg_.max_images - 1));
  std::string caption = kCaptionPrefix;
  for (int i = 0; i < k; ++i) {
    const int64_t idx = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(train_count_)));
    AddImage(idx, s);
    if (i > 0) caption += ", ";
    caption += FashionClassName(s->image_labels.back());
  }
  caption += ".";
  AppendText(&s->tokens, caption);
}

void TaskMixer::MakeInterleaved(KeyedRng& rng, Sample* s) const {
  s->task = "interleaved";
  const int lo = std::min(2, cfg_.max_images);
  const int k = lo + static_cast<int>(rng.Below(static_cast<uint64_t>(cfg_.max_images - lo + 1)));
  for (int i = 0; i < k; ++i) {
    AppendText(&s->tokens, kConnectives[rng.Below(kNumConnectives)]);
    const int64_t idx = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(train_count_)));
    AddImage(idx, s);
    std::string text = std::string(" a ") + FashionClassName(s->image_labels.back()) + ". ";
    if (rng.Uniform() < 0.3) {
      std::string snippet = Fortune(rng, static_cast<size_t>(std::max(cfg_.max_text_bytes / 2, 1)));
      if (!snippet.empty()) text += snippet + " ";
    }
    if (i + 1 == k) text = TrimRight(text);
    AppendText(&s->tokens, text);
  }
}

void TaskMixer::MakeGeneration(KeyedRng& rng, Sample* s) const {
  s->task = "generation";
  std::vector<int> classes;
  for (int c = 0; c < kFashionClasses; ++c) {
    if (!by_class_[c].empty()) classes.push_back(c);
  }
  const int label = classes[rng.Below(classes.size())];
  const std::vector<int64_t>& pool = by_class_[label];
  const int64_t idx = pool[rng.Below(pool.size())];
  AppendText(&s->tokens, std::string("Draw a ") + FashionClassName(label) + ": ");
  AppendGenSlots(&s->tokens, cfg_.gen_slots);
  s->gen_targets.push_back(TrainPixels(idx));
  s->gen_labels.push_back(label);
}

void TaskMixer::MakeText(KeyedRng& rng, Sample* s) const {
  s->task = "text";
  AppendText(&s->tokens, Fortune(rng, static_cast<size_t>(cfg_.max_text_bytes)));
}

Sample TaskMixer::Make(int64_t id) const {
  KeyedRng rng(HashKey(cfg_.seed, static_cast<uint64_t>(id), kMixStream));
  Sample s;
  s.id = id;
  s.tokens.push_back(tok::kBos);
  const double u = rng.Uniform();
  if (cumulative_[3] <= 0) {
    s.task = "text";  // no data at all: an empty document
  } else if (u < cumulative_[0]) {
    MakeCaption(rng, &s);
  } else if (u < cumulative_[1]) {
    MakeInterleaved(rng, &s);
  } else if (u < cumulative_[2]) {
    MakeGeneration(rng, &s);
  } else {
    MakeText(rng, &s);
  }
  s.tokens.push_back(tok::kEos);
  FillTargets(&s);
  return s;
}

std::vector<int32_t> CaptionPromptTokens(int patches_per_image) {
  std::vector<int32_t> t{tok::kBos};
  AppendImageBlock(&t, patches_per_image);
  AppendText(&t, kCaptionPrefix);
  return t;
}

std::vector<std::string> ParseCaptionNames(std::string_view text) {
  if (text.substr(0, 7) == kCaptionPrefix) text.remove_prefix(7);
  const size_t dot = text.find('.');
  if (dot != std::string_view::npos) text = text.substr(0, dot);
  std::vector<std::string> names;
  while (true) {
    const size_t sep = text.find(", ");
    std::string_view piece = text.substr(0, sep);
    while (!piece.empty() && (piece.front() == ' ' || piece.front() == '\n')) piece.remove_prefix(1);
    while (!piece.empty() && (piece.back() == ' ' || piece.back() == '\n')) piece.remove_suffix(1);
    if (!piece.empty()) names.emplace_back(piece);
    if (sep == std::string_view::npos) break;
    text.remove_prefix(sep + 2);
  }
  return names;
}

}  // namespace braid
