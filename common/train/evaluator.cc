#include "common/train/evaluator.h"

#include <algorithm>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/rng.h"
#include "common/data/image_io.h"
#include "common/data/task_mixer.h"
#include "common/data/tokenizer.h"
#include "common/nn/llm_decoder.h"
#include "common/train/microbatch.h"
#include "common/train/training_data.h"

namespace braid::train {

std::vector<float> TestImage(const FashionMnist& fm, int64_t index, int image_size) {
  const IdxImages& im = fm.test_images;
  GrayImage g;
  g.width = int(im.cols);
  g.height = int(im.rows);
  g.pixels.resize(size_t(im.rows * im.cols));
  const uint8_t* src = im.pixels.data() + index * im.rows * im.cols;
  for (size_t i = 0; i < g.pixels.size(); ++i) g.pixels[i] = float(src[i]) / 255.0f;
  if (g.width != image_size || g.height != image_size) g = ResizeBilinear(g, image_size, image_size);
  return g.pixels;
}

namespace {

void EvalCaptions(MultimodalModel& model, const FashionMnist& fm, const JobConfig& cfg, const EvalOptions& opt,
                  int64_t n, EvalResult* r) {
  const int S = cfg.model.encoder.image_size;
  const MixConfig mix = MixConfigFor(cfg);
  const std::vector<int32_t> prompt = CaptionPromptTokens(mix.patches_per_image);
  ByteTokenizer tk;
  for (int64_t begin = 0; begin < n; begin += opt.batch) {
    const int64_t end = std::min(n, begin + opt.batch), B = end - begin;
    std::vector<float> images;
    for (int64_t i = begin; i < end; ++i) {
      auto px = TestImage(fm, i, S);
      images.insert(images.end(), px.begin(), px.end());
    }
    Tensor emb;
    model.encoder().Forward(images.data(), B, &emb);
    nn::LlmBatch b;
    for (int64_t i = 0; i < B; ++i) b.Append(prompt, nullptr);
    auto outs = nn::GreedyDecode(model.llm(), b, emb.data(), opt.max_new_tokens,
                                 [](int32_t t) { return t == '.' || t == tok::kEos; });
    for (int64_t i = 0; i < B; ++i) {
      const std::string text = tk.DecodeText(outs[size_t(i)]);
      const auto names = ParseCaptionNames(text);
      const int label = fm.test_labels[size_t(begin + i)];
      const bool ok = !names.empty() && names[0] == FashionClassName(label);
      r->caption_correct += ok;
      if (r->examples.size() < 10)
        r->examples.push_back(std::string(FashionClassName(label)) + " -> \"" + text + "\"" + (ok ? "" : "  (wrong)"));
    }
    r->caption_total += B;
    if (opt.progress) LOG_INFO("captions %lld/%lld accuracy so far %.4f", (long long)end, (long long)n,
                               double(r->caption_correct) / double(r->caption_total));
  }
  r->caption_accuracy = r->caption_total ? double(r->caption_correct) / double(r->caption_total) : 0.0;
}

void EvalGeneration(MultimodalModel& model, const FashionMnist& fm, const JobConfig& cfg, const EvalOptions& opt,
                    int64_t n, EvalResult* r) {
  const int S = cfg.model.encoder.image_size;
  const int K = cfg.model.generator.gen_slots;
  double sum = 0;
  for (int64_t begin = 0; begin < n; begin += opt.batch) {
    const int64_t end = std::min(n, begin + opt.batch);
    std::vector<Sample> samples(static_cast<size_t>(end - begin));
    for (int64_t i = begin; i < end; ++i) {
      Sample& s = samples[size_t(i - begin)];
      s.id = i;
      s.task = "generation";
      const int label = fm.test_labels[size_t(i)];
      s.tokens.push_back(tok::kBos);
      AppendText(&s.tokens, std::string("Draw a ") + FashionClassName(label) + ": ");
      AppendGenSlots(&s.tokens, K);
      s.tokens.push_back(tok::kEos);
      FillTargets(&s);
      s.gen_targets.push_back(TestImage(fm, i, S));
      s.gen_labels.push_back(label);
    }
    std::vector<const Sample*> ptrs;
    for (auto& s : samples) ptrs.push_back(&s);
    // Fixed keys (step = -1): every evaluation of every checkpoint sees the same noise.
    Microbatch mb = PackMicrobatch(ptrs, -1, cfg.seed, int64_t(S) * S, K);
    MicrobatchLoss l = model.Step(mb, 0.0f, 0.0f, false);
    sum += l.gen_sum;
    r->gen_total += l.gen_count;
  }
  r->gen_loss = r->gen_total ? sum / double(r->gen_total) : 0.0;
}

}  // namespace

Status WriteClassSamples(MultimodalModel& model, const JobConfig& cfg, const std::string& png_path, int per_class) {
  const int S = cfg.model.generator.image_size, K = cfg.model.generator.gen_slots;
  const int classes = kFashionClasses;
  nn::LlmBatch b;
  for (int c = 0; c < classes; ++c)
    for (int k = 0; k < per_class; ++k) {
      std::vector<int32_t> t = {tok::kBos};
      AppendText(&t, std::string("Draw a ") + FashionClassName(c) + ": ");
      AppendGenSlots(&t, K);
      b.Append(t, nullptr);
    }
  Tensor cond;
  model.llm().Forward(b, nullptr, &cond, nullptr, nullptr);
  const int64_t n = int64_t(classes) * per_class;
  std::vector<float> imgs = model.generator().Sample(cond.data(), n, cfg.seed, cfg.model.generator.sample_steps);
  GrayImage grid;
  grid.width = per_class * (S + 2);
  grid.height = classes * (S + 2);
  grid.pixels.assign(size_t(grid.width) * size_t(grid.height), 1.0f);
  for (int c = 0; c < classes; ++c)
    for (int k = 0; k < per_class; ++k) {
      const float* src = imgs.data() + (int64_t(c) * per_class + k) * S * S;
      for (int y = 0; y < S; ++y)
        for (int x = 0; x < S; ++x)
          grid.pixels[size_t((c * (S + 2) + 1 + y) * grid.width + k * (S + 2) + 1 + x)] = src[y * S + x];
    }
  return SavePng(png_path, grid);
}

EvalResult Evaluate(MultimodalModel& model, const FashionMnist& fm, const JobConfig& cfg, const EvalOptions& opt) {
  Stopwatch sw;
  EvalResult r;
  int64_t n = fm.test_images.count;
  if (opt.limit > 0) n = std::min(n, opt.limit);
  EvalCaptions(model, fm, cfg, opt, n, &r);
  EvalGeneration(model, fm, cfg, opt, n, &r);
  r.seconds = sw.Seconds();
  return r;
}

}  // namespace braid::train
