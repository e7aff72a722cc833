// gpu_llm_step: the LLM worker's compute on one GPU (docs/GPU.md, step 9):
// the LLM's own forward + backward (common/nn/llm.cc, the code the workers
// run) on the CUDA backend, timed over several steps after a warm-up, and
// its model FLOP rate. bench/gpu_suite.sh sets it next to the cuBLASLt GEMM
// ceiling measured in the same run (gpu_gemm_ceiling); --peak-tflops also
// gives the MFU against a datasheet peak.
//
// Model FLOPs per step (bench/model_flops.h): 6 * matmul params * tokens
// plus the causal attention term; the LM head is counted, embeddings are not.
//
// Precision (--precision): bf16 (default) runs the CUDA backend's autocast
// mode (docs/GPU.md step 5, "Mixed precision (as built)": bf16 tensor-core
// matmuls and attention, fp32 everything else, the weights from the bf16
// mirror of the registered params) and prints `dtype=bf16`; fp32 runs every
// op in fp32 (cuBLASLt fp32, TF32 off) and prints `dtype=fp32`. The suite
// compares with the measured GEMM ceiling of the same dtype.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench/model_flops.h"
#include "common/gpu/device.h"
#include "common/nn/llm.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/cuda_backend.h"
#include "common/tensor/step_scalars.h"

namespace {

constexpr char kUsage[] =
    "usage: gpu_llm_step [--config 1b|small] [--steps N] [--warmup N] [--seqs N] [--seq-len L]\n"
    "                    [--precision bf16|fp32] [--peak-tflops X]\n"
    "  --config     1b: width 2048, 20 layers, 16 heads, SwiGLU 5632, vocab 32000 (~1.2B params);\n"
    "               small: width 256, 4 layers (a quick check)   [1b]\n"
    "  --steps      timed forward+backward steps                  [5]\n"
    "  --warmup     untimed steps first                           [2]\n"
    "  --seqs       packed sequences per step                     [8]\n"
    "  --seq-len    tokens per sequence                           [512]\n"
    "  --precision  bf16: autocast (bf16 matmuls and attention, fp32 master weights);\n"
    "               fp32: every op in fp32                         [bf16]\n"
    "  --peak-tflops  the device's datasheet peak for that precision: also print mfu=achieved/peak\n"
    "  --probe      only report the CUDA device (exit 0) or why there is none (exit 77)\n"
    "Prints achieved_tflops=, tokens_per_s=, dtype= lines. Exit: 0 done, 1 CUDA error,\n"
    "2 bad arguments, 77 no CUDA device (SKIPPED).\n";

bool ParseInt(const char* s, int* out, int min = 1) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < min || v > 1 << 20) return false;
  *out = static_cast<int>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace braid;
  std::string config = "1b", precision = "bf16";
  int steps = 5, warmup = 2, seqs = 8, seq_len = 512;
  double peak = 0;
  bool probe = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--probe") {
      probe = true;
      continue;
    }
    const bool has_value = i + 1 < argc;
    bool ok = has_value;
    if (a == "--config" && has_value) {
      config = argv[++i];
      ok = config == "1b" || config == "small";
    } else if (a == "--precision" && has_value) {
      precision = argv[++i];
      ok = precision == "bf16" || precision == "fp32";
    } else if (a == "--steps" && has_value) {
      ok = ParseInt(argv[++i], &steps);
    } else if (a == "--warmup" && has_value) {
      ok = ParseInt(argv[++i], &warmup, 0);
    } else if (a == "--seqs" && has_value) {
      ok = ParseInt(argv[++i], &seqs);
    } else if (a == "--seq-len" && has_value) {
      ok = ParseInt(argv[++i], &seq_len);
    } else if (a == "--peak-tflops" && has_value) {
      char* end = nullptr;
      peak = std::strtod(argv[++i], &end);
      ok = end != argv[i] && *end == '\0' && peak > 0;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "gpu_llm_step: bad argument '%s'%s\n%s", argv[i],
                   has_value ? "" : " (missing value?)", kUsage);
      return 2;
    }
  }

  auto count = gpu::DeviceCount();
  if (!count.ok()) {
    std::printf("SKIPPED: %s\n", count.status().message().c_str());
    return 77;
  }
  if (probe) {
    auto name = gpu::DeviceName(0);
    std::printf("device: %d CUDA device(s); device 0: %s\n", *count, name.ok() ? name->c_str() : "?");
    return 0;
  }

  LlmConfig cfg;
  if (config == "1b") {
    cfg.width = 2048, cfg.layers = 20, cfg.heads = 16, cfg.mlp_hidden = 5632, cfg.vocab = 32000;
  } else {
    cfg.width = 256, cfg.layers = 4, cfg.heads = 2, cfg.mlp_hidden = 704, cfg.vocab = 4096;
  }
  cfg.max_seq = seq_len;

  auto ctx_or = cuda::Context::Create(0);
  if (!ctx_or.ok()) {
    std::fprintf(stderr, "gpu_llm_step: %s\n", ctx_or.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<cuda::Context> ctx = std::move(*ctx_or);
  cuda::ScopedContext ctx_scope(ctx.get());
  cuda::CudaBackend backend(ctx.get(),
                            precision == "bf16" ? cuda::Precision::kBf16Autocast : cuda::Precision::kFp32);

  nn::Llm llm(cfg);
  std::printf("gpu_llm_step: config %s, %s, %lld params, %d x %d tokens per step; initialising on the host...\n",
              config.c_str(), precision.c_str(), static_cast<long long>(llm.params().size()), seqs, seq_len);
  std::fflush(stdout);
  llm.Init(1);

  nn::LlmBatch batch;
  std::mt19937 g(2);
  for (int s = 0; s < seqs; ++s) {
    std::vector<int32_t> tokens(static_cast<size_t>(seq_len)), targets(static_cast<size_t>(seq_len));
    for (int i = 0; i < seq_len; ++i) {
      tokens[size_t(i)] = int32_t(g() % 256);
      targets[size_t(i)] = int32_t(g() % uint32_t(cfg.vocab));
    }
    batch.Append(tokens, &targets);
  }

  Status err;
  double seconds = 0, loss = 0;
  {
    ops::ScopedBackend scope(backend.backend());
    llm.params().MoveToDevice();
    // The bf16 weight mirror (a no-op under fp32); a trainer's AdamW would
    // register the buffer on its first step, this bench runs no optimizer.
    err = backend.RegisterParams(llm.params().params_data(), llm.params().size());
    Tensor gen, dimg;
    StepScalars loss_sum(1);  // on the device, read once after the timed steps
    const float scale = 1.0f / float(batch.size());
    for (int it = 0; err.ok() && it < warmup + steps; ++it) {
      if (it == warmup) {
        err = ctx->Synchronize();
        if (!err.ok()) break;
      }
      const auto t0 = std::chrono::steady_clock::now();
      llm.params().ZeroGrads();
      loss_sum.Zero();
      llm.Forward(batch, nullptr, &gen, loss_sum.at(0), nullptr);
      llm.Backward(scale, nullptr, &dimg);
      err = ctx->Synchronize();
      if (!err.ok()) break;
      if (it >= warmup) seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    if (err.ok()) loss = loss_sum.Read()[0] / double(std::max<int64_t>(batch.supervised(), 1));  // per token
  }
  if (!err.ok()) {
    std::fprintf(stderr, "gpu_llm_step: %s\n", err.ToString().c_str());
    return 1;
  }

  bench::ModuleWork w{bench::LlmMatmulParams(cfg), batch.size(), cfg.layers, cfg.width,
                      double(seqs) * double(seq_len) * double(seq_len), true};
  const double flops = bench::ModuleFlops(w);
  const double tflops = flops * steps / seconds / 1e12;
  std::printf("loss=%.4f\nstep_seconds=%.4f\ntokens_per_s=%.0f\ndtype=%s\nachieved_tflops=%.2f\n", loss,
              seconds / steps, double(batch.size()) * steps / seconds, precision.c_str(), tflops);
  if (peak > 0) std::printf("mfu=%.3f\n", tflops / peak);
  std::printf("block_activation_bytes=%zu\n", llm.saved_block_bytes());
  return 0;
}
