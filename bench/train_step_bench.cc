// The demo model's training step: forward + backward of one full global batch
// (default JobConfig = examples/fashion-mllm.yaml: 32 samples in 4
// microbatches), built exactly as the single-process trainer builds it
// (common/train/trainer.cc). The optimizer step is not timed.
//
// Reports LLM packed tokens/s and model FLOP utilisation,
//   MFU = model FLOPs of the step (bench/model_flops.h) / step time / sgemm ceiling,
// where the ceiling is OpenBLAS sgemm at 1024^3 measured in the same run.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "bench/model_flops.h"
#include "common/config/job_config.h"
#include "common/train/microbatch.h"
#include "common/train/multimodal_model.h"
#include "common/train/step_plan.h"
#include "common/train/training_data.h"

namespace braid::bench {

double SgemmCeilingGflops();  // measured in main (ops_bench.cc)

namespace {

// One global batch, packed, plus the model; built once.
struct TrainStep {
  JobConfig cfg;
  std::unique_ptr<train::MultimodalModel> model;
  std::vector<train::Microbatch> microbatches;
  float text_scale = 0, gen_scale = 0;
  int64_t samples = 0, images = 0, gen_targets = 0, tokens = 0;
  StepFlops flops;
};

StatusOr<std::unique_ptr<TrainStep>> BuildTrainStep(int64_t step) {
  auto ts = std::make_unique<TrainStep>();
  const JobConfig& cfg = ts->cfg;
  ASSIGN_OR_RETURN(std::unique_ptr<train::TrainingData> data, train::TrainingData::Load(cfg));
  ts->model = std::make_unique<train::MultimodalModel>(cfg.model);
  ts->model->Init(cfg.seed);

  train::EpochSampler sampler(cfg.seed, data->epoch_samples());
  const std::vector<int64_t> ids = sampler.StepIds(step, cfg.train.global_batch);
  std::vector<Sample> samples(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSIGN_OR_RETURN(samples[i], data->Make(ids[i]));
  }
  int64_t text_total = 0;
  for (const auto& s : samples) {
    for (int32_t t : s.targets) text_total += t >= 0;
    ts->gen_targets += int64_t(s.gen_targets.size());
    ts->images += int64_t(s.images.size());
  }
  ts->samples = int64_t(samples.size());
  ts->text_scale = text_total > 0 ? 1.0f / float(text_total) : 0.0f;
  ts->gen_scale = ts->gen_targets > 0 ? 1.0f / float(ts->gen_targets) : 0.0f;

  const int64_t pixels = int64_t(cfg.model.encoder.image_size) * cfg.model.encoder.image_size;
  const size_t per = samples.size() / size_t(cfg.train.microbatches);
  std::vector<int64_t> seq_lens;
  for (int m = 0; m < cfg.train.microbatches; ++m) {
    std::vector<const Sample*> part;
    for (size_t i = size_t(m) * per; i < size_t(m + 1) * per; ++i) part.push_back(&samples[i]);
    ts->microbatches.push_back(train::PackMicrobatch(part, step, cfg.seed, pixels, cfg.model.generator.gen_slots));
    const auto& cu = ts->microbatches.back().llm.cu_seqlens;
    for (size_t s = 0; s + 1 < cu.size(); ++s) seq_lens.push_back(cu[s + 1] - cu[s]);
    ts->tokens += ts->microbatches.back().tokens();
  }
  ts->flops = ModelStepFlops(cfg.model, seq_lens, ts->images, ts->gen_targets);
  return ts;
}

void BM_TrainStep(benchmark::State& state) {
  static StatusOr<std::unique_ptr<TrainStep>> built = BuildTrainStep(0);
  if (!built.ok()) {
    state.SkipWithError(("cannot build the demo train step: " + built.status().ToString()).c_str());
    return;
  }
  TrainStep& ts = **built;
  static const bool warmed = [&ts] {  // first step allocates every activation
    for (const auto& mb : ts.microbatches) ts.model->Step(mb, ts.text_scale, ts.gen_scale, true);
    return true;
  }();
  benchmark::DoNotOptimize(warmed);
  for (auto _ : state) {
    ts.model->ZeroGrads();
    double loss = 0;
    for (const auto& mb : ts.microbatches) {
      train::MicrobatchLoss l = ts.model->Step(mb, ts.text_scale, ts.gen_scale, true);
      loss += l.text_sum + l.gen_sum;
    }
    benchmark::DoNotOptimize(loss);
  }
  const double iters = double(state.iterations());
  const double gflop = ts.flops.total() * 1e-9;
  using C = benchmark::Counter;
  state.counters["tok_per_s"] = C(double(ts.tokens) * iters, C::kIsRate);
  state.counters["samples_per_s"] = C(double(ts.samples) * iters, C::kIsRate);
  state.counters["GFLOPs"] = C(gflop * iters, C::kIsRate);
  state.counters["MFU"] = C(gflop * iters / SgemmCeilingGflops(), C::kIsRate);
  // Shape of the step (constant per iteration).
  state.counters["tokens"] = C(double(ts.tokens));
  state.counters["images"] = C(double(ts.images));
  state.counters["gen_targets"] = C(double(ts.gen_targets));
  state.counters["GFLOP_step"] = C(gflop);
  state.counters["enc_GFLOP"] = C(ts.flops.encoder * 1e-9);
  state.counters["llm_GFLOP"] = C(ts.flops.llm * 1e-9);
  state.counters["gen_GFLOP"] = C(ts.flops.generator * 1e-9);
}
// A step takes ~1 s: a longer minimum than the ops so it averages a few steps.
BENCHMARK(BM_TrainStep)->Unit(benchmark::kMillisecond)->MinTime(2.0)->UseRealTime();

}  // namespace
}  // namespace braid::bench
