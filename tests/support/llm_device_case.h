// One LLM forward + backward on a device backend against the same on the
// host, shared by the guarded-device CPU test and the CUDA GPU test
// (docs/GPU.md step 3). The module is built and initialised on the host; the
// device copy's params move to the device, its inputs are uploaded, and the
// outputs come back with ToHost().
#pragma once

#include <functional>
#include <random>
#include <vector>

#include "common/data/tokenizer.h"
#include "common/nn/llm.h"
#include "common/ops/backend.h"
#include "common/tensor/step_scalars.h"

namespace braid::testing_support {

struct LlmRunResult {
  double loss = 0;
  int64_t count = 0;
  std::vector<float> gen_hidden, dimage_emb, grads, logits;
};

inline LlmConfig SmallDeviceLlm() {
  LlmConfig cfg;
  cfg.width = 64;
  cfg.heads = 2;  // head dim 32: a size the CUDA attention supports
  cfg.layers = 2;
  cfg.mlp_hidden = 96;
  cfg.vocab = 264;
  cfg.max_seq = 64;
  return cfg;
}

// Three packed samples with image placeholders, generation slots and ignored targets.
inline nn::LlmBatch DeviceTestBatch(const LlmConfig& cfg) {
  nn::LlmBatch b;
  std::mt19937 g(5);
  for (int s = 0; s < 3; ++s) {
    std::vector<int32_t> tokens, targets;
    for (int i = 0; i < 7 + 9 * s; ++i) {
      int32_t t = int32_t(g() % 256);
      if (i >= 2 && i < 4) t = tok::kImg;
      if (i == 5) t = tok::kGen;
      tokens.push_back(t);
      targets.push_back(i % 5 == 4 ? -1 : int32_t(g() % uint32_t(cfg.vocab)));
    }
    b.Append(tokens, &targets);
  }
  return b;
}

inline std::vector<float> RandomFloats(int64_t n, uint32_t seed, float scale) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(g);
  return v;
}

// Runs forward + backward of a fresh Llm(cfg) initialised with `seed`; with a
// backend, the params and inputs live in its memory and the ops run there;
// `on_device` (optional) runs right after the params moved there.
inline LlmRunResult RunLlmOnce(const LlmConfig& cfg, uint64_t seed, const ops::Backend* backend,
                               const std::function<void(ParamBuffer&)>& on_device = nullptr) {
  const nn::LlmBatch batch = DeviceTestBatch(cfg);
  const int64_t C = cfg.width, n_img = int64_t(batch.image_rows.size()), n_gen = int64_t(batch.gen_rows.size());
  const std::vector<float> image_emb = RandomFloats(n_img * C, 7, 1.0f), dgen = RandomFloats(n_gen * C, 8, 0.1f);
  nn::Llm llm(cfg);
  llm.Init(seed);
  LlmRunResult r;
  auto run = [&] {
    Tensor d_img({n_img, C}), d_dgen({n_gen, C}), gen, dimg;
    d_img.CopyFromHost(image_emb.data(), n_img * C);
    d_dgen.CopyFromHost(dgen.data(), n_gen * C);
    StepScalars loss(1);
    llm.Forward(batch, d_img.data(), &gen, loss.at(0), &r.count);
    llm.Backward(1.0f / 29.0f, d_dgen.data(), &dimg);
    r.gen_hidden = gen.ToHost();
    r.dimage_emb = dimg.ToHost();
    r.logits = llm.logits().ToHost();
    r.grads = llm.params().GradsToHost();
    r.loss = loss.Read()[0];
  };
  if (backend != nullptr) {
    ops::ScopedBackend scope(*backend);
    llm.params().MoveToDevice();
    if (on_device) on_device(llm.params());
    run();
  } else {
    run();
  }
  return r;
}

}  // namespace braid::testing_support
