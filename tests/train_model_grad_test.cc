// Gradient check of the wired multimodal model (common/train/multimodal_model):
// the analytic gradient of
//   L = text_sum * text_scale + gen_sum * gen_scale
// from MultimodalModel::Step(backward=true) against central finite
// differences of the float forward, for sampled parameters of every module.
// Exactly-zero initial parameters (the generator's zero-initialised output
// projection, biases) are first set to small random values, so the check
// exercises every path. This checks the cross-module routing: image embeddings (encoder -> LLM and
// back) and generation conditioning (LLM -> generator and back). The
// generator draws timesteps and noise from per-target keys, so L is a
// deterministic function of the parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/base/threads.h"
#include "common/data/sample.h"
#include "common/data/tokenizer.h"
#include "common/train/microbatch.h"
#include "common/optim/adamw.h"
#include "common/optim/grad_clip.h"
#include "common/tensor/step_scalars.h"
#include "common/train/multimodal_model.h"
#include "tests/support/guarded_device.h"

namespace braid::train {
namespace {

constexpr int kImageSize = 28;
constexpr int kPixels = kImageSize * kImageSize;

ModelConfig TinyModel() {
  ModelConfig m;
  m.encoder.image_size = kImageSize;
  m.encoder.patch = 7;
  m.encoder.width = 16;
  m.encoder.layers = 1;
  m.encoder.heads = 2;
  m.encoder.mlp_ratio = 2;
  m.llm.width = 16;
  m.llm.layers = 1;
  m.llm.heads = 2;
  m.llm.mlp_hidden = 32;
  m.llm.max_seq = 256;
  m.generator.image_size = kImageSize;
  m.generator.patch = 7;
  m.generator.width = 16;
  m.generator.layers = 1;
  m.generator.heads = 2;
  m.generator.mlp_ratio = 2;
  m.generator.gen_slots = 2;
  m.generator.diffusion_steps = 10;
  m.generator.sample_steps = 5;
  m.generator.noise_samples = 2;  // exercises the shared-conditioning gradient sum
  return m;
}

std::vector<float> RandomImage(std::mt19937& rng) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> img(kPixels);
  for (float& p : img) p = u(rng);
  return img;
}

// Three hand-made samples: a two-image caption, a generation sample, and an
// interleaved one with an image *and* a generation target in one sequence
// (so the generator loss reaches the encoder through the LLM).
std::vector<Sample> MakeSamples(int patches, int gen_slots) {
  std::mt19937 rng(7);
  std::vector<Sample> out(3);

  Sample& cap = out[0];
  cap.id = 11;
  cap.task = "caption";
  cap.tokens.push_back(tok::kBos);
  AppendImageBlock(&cap.tokens, patches);
  AppendImageBlock(&cap.tokens, patches);
  AppendText(&cap.tokens, "two shirts");
  cap.tokens.push_back(tok::kEos);
  cap.images = {RandomImage(rng), RandomImage(rng)};
  cap.image_labels = {0, 0};
  FillTargets(&cap);

  Sample& gen = out[1];
  gen.id = 22;
  gen.task = "generation";
  gen.tokens.push_back(tok::kBos);
  AppendText(&gen.tokens, "draw a boot:");
  AppendGenSlots(&gen.tokens, gen_slots);
  gen.tokens.push_back(tok::kEos);
  gen.gen_targets = {RandomImage(rng)};
  gen.gen_labels = {9};
  FillTargets(&gen);

  Sample& mix = out[2];
  mix.id = 33;
  mix.task = "interleaved";
  mix.tokens.push_back(tok::kBos);
  AppendImageBlock(&mix.tokens, patches);
  AppendText(&mix.tokens, "like this:");
  AppendGenSlots(&mix.tokens, gen_slots);
  AppendText(&mix.tokens, " ok");
  mix.tokens.push_back(tok::kEos);
  mix.images = {RandomImage(rng)};
  mix.image_labels = {3};
  mix.gen_targets = {RandomImage(rng)};
  mix.gen_labels = {3};
  FillTargets(&mix);
  return out;
}

struct Fixture {
  MultimodalModel model{TinyModel()};
  std::vector<Sample> samples;
  Microbatch mb;
  Fixture() {
    SetComputeThreads(1);
    model.Init(42);
    // The generator's output projection starts at zero (DiT), and biases
    // start at zero: at the raw init no gradient flows from the generator
    // loss into its network, the LLM or the encoder. Give every exactly-zero
    // parameter a small random value so that every path is live.
    std::mt19937 rng(99);
    std::normal_distribution<float> noise(0.0f, 0.05f);
    for (ParamBuffer* pb : {&model.encoder().params(), &model.llm().params(), &model.generator().params()})
      for (float& p : pb->params())
        if (p == 0.0f) p = noise(rng);
    const int patches = int(model.encoder().patches_per_image());
    samples = MakeSamples(patches, model.config().generator.gen_slots);
    std::vector<const Sample*> ptrs;
    for (const Sample& s : samples) ptrs.push_back(&s);
    mb = PackMicrobatch(ptrs, /*step=*/3, /*seed=*/1234, kPixels, model.config().generator.gen_slots);
  }
  double Loss(float ts, float gs) {
    MicrobatchLoss l = model.Step(mb, ts, gs, false);
    return l.text_sum * double(ts) + l.gen_sum * double(gs);
  }
};

struct ModuleRef {
  const char* name;
  ParamBuffer* pb;
};

// Picks one element of every parameter view plus `extra` random elements
// with a non-zero analytic gradient; checks each against central differences.
// Returns the number of failures; prints the worst relative error.
int CheckModule(Fixture& f, const ModuleRef& m, float ts, float gs, int extra, uint64_t seed) {
  ParamBuffer& pb = *m.pb;
  f.model.ZeroGrads();
  f.model.Step(f.mb, ts, gs, true);
  const std::vector<float> analytic = pb.grads();

  std::mt19937_64 rng(seed);
  std::vector<std::pair<int64_t, std::string>> picks;
  for (const ParamView& v : pb.views()) {
    // Prefer an element with a non-zero gradient so the check is not vacuous.
    int64_t best = v.offset + int64_t(rng() % uint64_t(v.numel));
    for (int t = 0; t < 64 && analytic[size_t(best)] == 0.0f; ++t) best = v.offset + int64_t(rng() % uint64_t(v.numel));
    picks.emplace_back(best, v.name);
  }
  std::vector<int64_t> nonzero;
  for (int64_t i = 0; i < pb.size(); ++i)
    if (std::fabs(analytic[size_t(i)]) > 1e-6f) nonzero.push_back(i);
  EXPECT_GT(nonzero.size(), size_t(0)) << m.name << ": no parameter has a gradient";
  // The extra picks come from the largest quarter of the non-zero gradients,
  // where finite differences resolve them well.
  std::sort(nonzero.begin(), nonzero.end(),
            [&](int64_t a, int64_t b) { return std::fabs(analytic[size_t(a)]) > std::fabs(analytic[size_t(b)]); });
  nonzero.resize((nonzero.size() + 3) / 4);
  for (int k = 0; k < extra && !nonzero.empty(); ++k) {
    const int64_t i = nonzero[size_t(rng() % nonzero.size())];
    std::string name;
    for (const ParamView& v : pb.views())
      if (i >= v.offset && i < v.offset + v.numel) name = v.name;
    picks.emplace_back(i, name);
  }

  int failures = 0, nonzero_checked = 0;
  double worst_rel = 0, worst_abs = 0;
  std::string worst_name;
  for (const auto& [i, name] : picks) {
    float& p = pb.params()[size_t(i)];
    const float orig = p;
    const float h = 1e-2f * std::max(1.0f, std::fabs(orig));
    p = orig + h;
    const double lp = f.Loss(ts, gs);
    p = orig - h;
    const double lm = f.Loss(ts, gs);
    p = orig;
    const double numeric = (lp - lm) / (2.0 * double(h));
    const double a = analytic[size_t(i)];
    const double abs_err = std::fabs(a - numeric);
    const double rel_err = abs_err / std::max({std::fabs(a), std::fabs(numeric), 1e-12});
    if (std::fabs(a) > 1e-4) ++nonzero_checked;
    const bool ok = abs_err <= 1e-4 || rel_err <= 5e-2;
    if (!ok) {
      ++failures;
      ADD_FAILURE() << m.name << " " << name << " [" << (i - pb.views()[0].offset) << "]: analytic " << a
                    << " numeric " << numeric << " rel err " << rel_err;
    }
    if (std::max(std::fabs(a), std::fabs(numeric)) > 1e-4 && rel_err > worst_rel) {
      worst_rel = rel_err;
      worst_name = name;
    }
    worst_abs = std::max(worst_abs, abs_err);
  }
  std::printf("%-9s text_scale=%.4g gen_scale=%.4g: %zu params checked (%d with |grad|>1e-4), "
              "max rel err %.3g (%s; among |grad| > 1e-4), max abs err %.3g\n",
              m.name, double(ts), double(gs), picks.size(), nonzero_checked, worst_rel,
              worst_name.empty() ? "-" : worst_name.c_str(), worst_abs);
  EXPECT_GE(nonzero_checked, 3) << m.name << ": too few parameters with a measurable gradient";
  return failures;
}

TEST(TrainModelGrad, MicrobatchIsWhatTheTestMeans) {
  Fixture f;
  EXPECT_EQ(f.mb.num_images, 3);
  EXPECT_EQ(f.mb.num_gen, 2);
  EXPECT_EQ(f.mb.llm.num_seqs(), 3);
  EXPECT_EQ(int64_t(f.mb.llm.image_rows.size()), 3 * f.model.encoder().patches_per_image());
  EXPECT_EQ(f.mb.llm.gen_rows.size(), size_t(4));
  EXPECT_GT(f.mb.text_count, 0);
  // The loss is a deterministic function of the parameters (keyed noise).
  const float ts = 1.0f / float(f.mb.text_count), gs = 0.5f;
  const double a = f.Loss(ts, gs), b = f.Loss(ts, gs);
  EXPECT_EQ(a, b);
  MicrobatchLoss l = f.model.Step(f.mb, ts, gs, false);
  EXPECT_EQ(l.text_count, f.mb.text_count);
  EXPECT_EQ(l.gen_count, 2);
  EXPECT_GT(l.text_sum, 0);
  EXPECT_GT(l.gen_sum, 0);
}

TEST(TrainModelGrad, FullLossAllModules) {
  Fixture f;
  const float ts = 1.0f / float(f.mb.text_count), gs = 1.0f / float(f.mb.num_gen);
  int failures = 0;
  failures += CheckModule(f, {"encoder", &f.model.encoder().params()}, ts, gs, 20, 1);
  failures += CheckModule(f, {"llm", &f.model.llm().params()}, ts, gs, 20, 2);
  failures += CheckModule(f, {"generator", &f.model.generator().params()}, ts, gs, 20, 3);
  EXPECT_EQ(failures, 0);
}

// Generator loss only: the LLM and the encoder learn from it only through the
// conditioning gradient (generator -> LLM gen rows -> image embeddings).
// These gradients are small (the conditioning passes through several 0.02-std
// projections), so the loss is scaled up by 100 to keep the 1e-4 absolute
// floor of the check meaningful.
TEST(TrainModelGrad, GenerationLossReachesLlmAndEncoder) {
  Fixture f;
  const float gs = 100.0f / float(f.mb.num_gen);
  int failures = 0;
  failures += CheckModule(f, {"encoder", &f.model.encoder().params()}, 0.0f, gs, 20, 4);
  failures += CheckModule(f, {"llm", &f.model.llm().params()}, 0.0f, gs, 20, 5);
  EXPECT_EQ(failures, 0);
}

// Text loss only: the generator must get no gradient, the encoder must.
TEST(TrainModelGrad, TextLossOnlyLeavesGeneratorAlone) {
  Fixture f;
  const float ts = 1.0f / float(f.mb.text_count);
  f.model.ZeroGrads();
  f.model.Step(f.mb, ts, 0.0f, true);
  for (float g : f.model.generator().params().grads()) ASSERT_EQ(g, 0.0f);
  EXPECT_EQ(CheckModule(f, {"encoder", &f.model.encoder().params()}, ts, 0.0f, 20, 6), 0);
}

// Gradients accumulate across Step calls (the trainer relies on it).
TEST(TrainModelGrad, GradientsAccumulate) {
  Fixture f;
  const float ts = 1.0f / float(f.mb.text_count), gs = 1.0f / float(f.mb.num_gen);
  f.model.ZeroGrads();
  f.model.Step(f.mb, ts, gs, true);
  std::vector<std::vector<float>> once = {f.model.encoder().params().grads(), f.model.llm().params().grads(),
                                          f.model.generator().params().grads()};
  f.model.Step(f.mb, ts, gs, true);
  std::vector<std::vector<float>> twice = {f.model.encoder().params().grads(), f.model.llm().params().grads(),
                                           f.model.generator().params().grads()};
  for (size_t m = 0; m < once.size(); ++m) {
    for (size_t i = 0; i < once[m].size(); ++i) {
      ASSERT_NEAR(twice[m][i], 2.0f * once[m][i], 1e-5f + 1e-4f * std::fabs(once[m][i])) << "module " << m << " " << i;
    }
  }
}

}  // namespace
}  // namespace braid::train

namespace braid::train {
namespace {

// The step's hot path on a device reads nothing back (docs/GPU.md, "Step
// scalars"): a microbatch's forward and backward, the grad clip and AdamW
// leave the loss sums and norms in device memory, and on the guarded fake
// device (every device-to-host copy counted) the only read is the one the
// step makes for its report. The sums equal the host run's bit for bit.
TEST(TrainModelGrad, AStepOnADeviceReadsBackOnlyItsScalars) {
  const float ts = 1.0f / 7.0f, gs = 0.5f;
  Fixture host;
  MicrobatchLoss want = host.model.Step(host.mb, ts, gs, true);
  host.model.Step(host.mb, ts, gs, true);  // two microbatches
  double want_norm = GradNorm(host.model.llm().params().grads().data(), host.model.llm().params().size());

  Fixture f;
  testing_support::GuardedDevice dev;
  testing_support::GuardedOps gops(&dev);
  ops::ScopedBackend scope(gops.backend());
  ParamBuffer& llm = f.model.llm().params();
  for (ParamBuffer* pb : {&f.model.encoder().params(), &llm, &f.model.generator().params()}) pb->MoveToDevice();
  AdamW opt(llm.size(), AdamWConfig{});
  opt.MoveToDevice(llm);
  StepScalars sums(3);
  const int64_t reads = dev.host_reads();
  f.model.StepInto(f.mb, ts, gs, true, sums.at(0), sums.at(1));
  f.model.StepInto(f.mb, ts, gs, true, sums.at(0), sums.at(1));
  ClipGradNormInto(llm.grads_data(), llm.size(), 1e-3, sums.at(2));
  opt.Step(llm, 1e-3f);
  EXPECT_EQ(dev.host_reads(), reads) << "the step read device memory back before its report";
  const std::vector<double> got = sums.Read();
  EXPECT_EQ(dev.host_reads(), reads + 1);
  EXPECT_EQ(got[0], want.text_sum + want.text_sum);
  EXPECT_EQ(got[1], want.gen_sum + want.gen_sum);
  EXPECT_EQ(got[2], want_norm);
}

}  // namespace
}  // namespace braid::train
