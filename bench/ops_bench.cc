// Throughput of every CPU op (forward and backward) at the demo model's sizes,
// against ceilings measured in the same run:
//   sgemm  GFLOP/s of OpenBLAS at 1024^3 (compute-bound ops: matmul, attention)
//   memcpy GB/s on a buffer far larger than cache (memory-bound ops)
//   copy   GB/s on a 1 MiB buffer (in-cache; the demo's activations fit in L2,
//          so this is the fairer ceiling for them)
// Bytes are counted as the minimum traffic an op must do (each input read
// once, each output written once, accumulated outputs read and written);
// memcpy counts read + write too, so the ratios compare like with like.
// Every rate uses wall-clock time (UseRealTime): the ops are multi-threaded.
//
//   braid_bench [--threads=N] [google benchmark flags]
// --threads (or env BRAID_BENCH_THREADS) sets braid::SetComputeThreads; the
// default 0 means all cores.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/base/blas_core.h"
#include "common/base/rng.h"
#include "common/base/threads.h"
#include "common/ops/cpu/activation.h"
#include "common/ops/cpu/attention.h"
#include "common/ops/cpu/embedding.h"
#include "common/ops/cpu/loss.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/norm.h"

extern "C" char* openblas_get_corename(void);

namespace braid::bench {
namespace {

struct Ceilings {
  double sgemm_gflops = 0;
  double memcpy_gbps = 0;      // DRAM-sized buffer
  double cache_copy_gbps = 0;  // 1 MiB buffer
};
Ceilings g_ceilings;

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Best of `reps` runs of f(): the ceiling is what the machine can do, so the
// fastest run (least disturbed by other load) is the one that counts.
template <typename F>
double BestSeconds(int reps, F&& f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, Seconds(t0, std::chrono::steady_clock::now()));
  }
  return best;
}

std::vector<float> RandomVector(int64_t n, uint64_t key, float scale = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  KeyedRng rng(key);
  for (float& x : v) x = scale * float(2.0 * rng.Uniform() - 1.0);
  return v;
}

double MeasureSgemmGflops(int64_t n) {
  const std::vector<float> a = RandomVector(n * n, 1), b = RandomVector(n * n, 2);
  std::vector<float> c(static_cast<size_t>(n * n));
  auto run = [&] { ops::gemm<float>(false, true, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); };
  run();  // warm-up: threads, page faults
  const double s = BestSeconds(10, run);
  return 2.0 * double(n) * double(n) * double(n) / s * 1e-9;
}

// Parallel memcpy over all compute threads; GB/s counts read + write.
double MeasureCopyGbps(int64_t bytes, int reps) {
  std::vector<char> src(static_cast<size_t>(bytes), 1), dst(static_cast<size_t>(bytes), 0);
  const int threads = ComputeThreads();
  auto run = [&] {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; ++t) {
      const int64_t lo = bytes * t / threads, hi = bytes * (t + 1) / threads;
      std::memcpy(dst.data() + lo, src.data() + lo, static_cast<size_t>(hi - lo));
    }
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  };
  run();
  const double s = BestSeconds(reps, run);
  return 2.0 * double(bytes) / s * 1e-9;
}

// ---- counters -------------------------------------------------------------
// kIsRate divides by the (real) time of the run, so a counter holding
// work / ceiling reads directly as the fraction of the ceiling.

void SetFlopCounters(benchmark::State& state, double flops_per_iter) {
  const double gflop = flops_per_iter * double(state.iterations()) * 1e-9;
  state.counters["GFLOPs"] = benchmark::Counter(gflop, benchmark::Counter::kIsRate);
  state.counters["of_sgemm"] = benchmark::Counter(gflop / g_ceilings.sgemm_gflops, benchmark::Counter::kIsRate);
}

void SetByteCounters(benchmark::State& state, double bytes_per_iter) {
  const double gb = bytes_per_iter * double(state.iterations()) * 1e-9;
  state.counters["GBps"] = benchmark::Counter(gb, benchmark::Counter::kIsRate);
  state.counters["of_memcpy"] = benchmark::Counter(gb / g_ceilings.memcpy_gbps, benchmark::Counter::kIsRate);
  state.counters["of_l2copy"] = benchmark::Counter(gb / g_ceilings.cache_copy_gbps, benchmark::Counter::kIsRate);
}

// ---- demo sizes -------------------------------------------------------------
constexpr int64_t kTargetTokens = 2000;  // packed tokens of one LLM microbatch
constexpr int64_t kC = 128;              // LLM width
constexpr int64_t kHeads = 4;
constexpr int64_t kHidden = 256;         // SwiGLU hidden
constexpr int64_t kVocab = 264;
constexpr int64_t kGeluHidden = 4 * kC;  // ViT/DiT-style MLP hidden (mlp_ratio 4)
constexpr int64_t kMaxSeq = 512;

// Packed sequences of lengths uniform in [20, 200], at least 2000 tokens in all.
const std::vector<int32_t>& CuSeqlens() {
  static const std::vector<int32_t> cu = [] {
    std::vector<int32_t> c = {0};
    KeyedRng rng(7);
    while (c.back() < kTargetTokens) {
      const int32_t len = 20 + int32_t(rng.NextU64() % 181);
      c.push_back(c.back() + len);
    }
    return c;
  }();
  return cu;
}
int64_t N() { return CuSeqlens().back(); }
int NumSeqs() { return int(CuSeqlens().size()) - 1; }

// ---- matmul -----------------------------------------------------------------
// Args: C (input width), OC (output width). Forward 2*N*C*OC; backward
// (dinp + dweight) 4*N*C*OC.
void BM_MatmulForward(benchmark::State& state) {
  const int64_t n = N(), C = state.range(0), OC = state.range(1);
  auto inp = RandomVector(n * C, 1), w = RandomVector(OC * C, 2, 0.05f), bias = RandomVector(OC, 3);
  std::vector<float> out(static_cast<size_t>(n * OC));
  for (auto _ : state) {
    ops::matmul_forward(out.data(), inp.data(), w.data(), bias.data(), n, C, OC);
    benchmark::DoNotOptimize(out.data());
  }
  SetFlopCounters(state, 2.0 * double(n * C * OC));
}

void BM_MatmulBackward(benchmark::State& state) {
  const int64_t n = N(), C = state.range(0), OC = state.range(1);
  auto inp = RandomVector(n * C, 1), w = RandomVector(OC * C, 2, 0.05f), dout = RandomVector(n * OC, 4);
  std::vector<float> dinp(static_cast<size_t>(n * C)), dw(static_cast<size_t>(OC * C)), db(static_cast<size_t>(OC));
  for (auto _ : state) {
    ops::matmul_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), n, C, OC);
    benchmark::DoNotOptimize(dinp.data());
  }
  SetFlopCounters(state, 4.0 * double(n * C * OC));
}

// The LLM's matmuls: qkv, attention proj, SwiGLU fc, MLP proj, lm_head.
void MatmulShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"C", "OC"});
  b->Args({kC, 3 * kC})->Args({kC, kC})->Args({kC, 2 * kHidden})->Args({kHidden, kC})->Args({kC, kVocab});
}
BENCHMARK(BM_MatmulForward)->Apply(MatmulShapes)->UseRealTime();
BENCHMARK(BM_MatmulBackward)->Apply(MatmulShapes)->UseRealTime();

// ---- attention ----------------------------------------------------------------
// FLOPs per sequence: forward 4*L^2*C (QK^T and PV), backward 8*L^2*C; half
// of that when causal (same formula as bench/model_flops.h).
double AttentionFlops(bool causal, double factor) {
  const auto& cu = CuSeqlens();
  double sum = 0;
  for (size_t s = 0; s + 1 < cu.size(); ++s) {
    const double L = double(cu[s + 1] - cu[s]);
    sum += L * L;
  }
  return factor * double(kC) * sum * (causal ? 0.5 : 1.0);
}

void BM_AttentionForward(benchmark::State& state) {
  const bool causal = state.range(0) != 0;
  const int64_t n = N(), HD = kC / kHeads;
  auto qkv = RandomVector(n * 3 * kC, 1);
  std::vector<float> out(static_cast<size_t>(n * kC)), lse(static_cast<size_t>(n * kHeads));
  for (auto _ : state) {
    ops::attention_forward(out.data(), lse.data(), qkv.data(), CuSeqlens().data(), NumSeqs(), 0, kHeads, HD, causal);
    benchmark::DoNotOptimize(out.data());
  }
  SetFlopCounters(state, AttentionFlops(causal, 4.0));
}

void BM_AttentionBackward(benchmark::State& state) {
  const bool causal = state.range(0) != 0;
  const int64_t n = N(), HD = kC / kHeads;
  auto qkv = RandomVector(n * 3 * kC, 1), dout = RandomVector(n * kC, 2);
  std::vector<float> out(static_cast<size_t>(n * kC)), lse(static_cast<size_t>(n * kHeads)),
      dqkv(static_cast<size_t>(n * 3 * kC));
  ops::attention_forward(out.data(), lse.data(), qkv.data(), CuSeqlens().data(), NumSeqs(), 0, kHeads, HD, causal);
  for (auto _ : state) {
    ops::attention_backward(dqkv.data(), dout.data(), qkv.data(), out.data(), lse.data(), CuSeqlens().data(),
                            NumSeqs(), 0, kHeads, HD, causal);
    benchmark::DoNotOptimize(dqkv.data());
  }
  SetFlopCounters(state, AttentionFlops(causal, 8.0));
}
BENCHMARK(BM_AttentionForward)->ArgName("causal")->Arg(1)->Arg(0)->UseRealTime();
BENCHMARK(BM_AttentionBackward)->ArgName("causal")->Arg(1)->Arg(0)->UseRealTime();

// ---- embedding --------------------------------------------------------------
std::vector<int32_t> RandomIds(int64_t n, int32_t bound, uint64_t key) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  KeyedRng rng(key);
  for (int32_t& id : ids) id = int32_t(rng.NextU64() % uint64_t(bound));
  return ids;
}

constexpr double kF = sizeof(float);

void BM_EmbeddingForward(benchmark::State& state) {
  const int64_t n = N();
  auto ids = RandomIds(n, int32_t(kVocab), 1);
  auto table = RandomVector(kVocab * kC, 2);
  std::vector<float> out(static_cast<size_t>(n * kC));
  for (auto _ : state) {
    ops::embedding_forward(out.data(), ids.data(), table.data(), n, kC);
    benchmark::DoNotOptimize(out.data());
  }
  SetByteCounters(state, 2.0 * kF * double(n * kC) + 4.0 * double(n));  // row read + write, ids
}

void BM_EmbeddingBackward(benchmark::State& state) {
  const int64_t n = N();
  auto ids = RandomIds(n, int32_t(kVocab), 1);
  auto dout = RandomVector(n * kC, 2);
  std::vector<float> dtable(static_cast<size_t>(kVocab * kC));
  for (auto _ : state) {
    ops::embedding_backward(dtable.data(), dout.data(), ids.data(), n, kC);
    benchmark::DoNotOptimize(dtable.data());
  }
  SetByteCounters(state, 3.0 * kF * double(n * kC) + 4.0 * double(n));  // dout read, dtable row read + write
}

void BM_AddPositionsForward(benchmark::State& state) {
  const int64_t n = N();
  auto pos = RandomIds(n, int32_t(kMaxSeq), 1);
  auto table = RandomVector(kMaxSeq * kC, 2);
  std::vector<float> out(static_cast<size_t>(n * kC));
  for (auto _ : state) {
    ops::add_positions_forward(out.data(), pos.data(), table.data(), n, kC);
    benchmark::DoNotOptimize(out.data());
  }
  SetByteCounters(state, 3.0 * kF * double(n * kC) + 4.0 * double(n));
}

void BM_AddPositionsBackward(benchmark::State& state) {
  const int64_t n = N();
  auto pos = RandomIds(n, int32_t(kMaxSeq), 1);
  auto dout = RandomVector(n * kC, 2);
  std::vector<float> dtable(static_cast<size_t>(kMaxSeq * kC));
  for (auto _ : state) {
    ops::add_positions_backward(dtable.data(), dout.data(), pos.data(), n, kC);
    benchmark::DoNotOptimize(dtable.data());
  }
  SetByteCounters(state, 3.0 * kF * double(n * kC) + 4.0 * double(n));
}
BENCHMARK(BM_EmbeddingForward)->UseRealTime();
BENCHMARK(BM_EmbeddingBackward)->UseRealTime();
BENCHMARK(BM_AddPositionsForward)->UseRealTime();
BENCHMARK(BM_AddPositionsBackward)->UseRealTime();

// ---- norms --------------------------------------------------------------------
void BM_RmsnormForward(benchmark::State& state) {
  const int64_t n = N();
  auto inp = RandomVector(n * kC, 1), w = RandomVector(kC, 2);
  std::vector<float> out(static_cast<size_t>(n * kC)), rstd(static_cast<size_t>(n));
  for (auto _ : state) {
    ops::rmsnorm_forward(out.data(), rstd.data(), inp.data(), w.data(), n, kC);
    benchmark::DoNotOptimize(out.data());
  }
  SetByteCounters(state, 2.0 * kF * double(n * kC));  // inp read, out write
}

void BM_RmsnormBackward(benchmark::State& state) {
  const int64_t n = N();
  auto inp = RandomVector(n * kC, 1), w = RandomVector(kC, 2), dout = RandomVector(n * kC, 3);
  std::vector<float> out(static_cast<size_t>(n * kC)), rstd(static_cast<size_t>(n)),
      dinp(static_cast<size_t>(n * kC)), dw(static_cast<size_t>(kC));
  ops::rmsnorm_forward(out.data(), rstd.data(), inp.data(), w.data(), n, kC);
  for (auto _ : state) {
    ops::rmsnorm_backward(dinp.data(), dw.data(), dout.data(), inp.data(), w.data(), rstd.data(), n, kC);
    benchmark::DoNotOptimize(dinp.data());
  }
  SetByteCounters(state, 4.0 * kF * double(n * kC));  // dout, inp read; dinp read + write
}

void BM_LayernormForward(benchmark::State& state) {
  const int64_t n = N();
  auto inp = RandomVector(n * kC, 1), w = RandomVector(kC, 2), b = RandomVector(kC, 3);
  std::vector<float> out(static_cast<size_t>(n * kC)), mean(static_cast<size_t>(n)), rstd(static_cast<size_t>(n));
  for (auto _ : state) {
    ops::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), n, kC);
    benchmark::DoNotOptimize(out.data());
  }
  SetByteCounters(state, 2.0 * kF * double(n * kC));
}

void BM_LayernormBackward(benchmark::State& state) {
  const int64_t n = N();
  auto inp = RandomVector(n * kC, 1), w = RandomVector(kC, 2), b = RandomVector(kC, 3), dout = RandomVector(n * kC, 4);
  std::vector<float> out(static_cast<size_t>(n * kC)), mean(static_cast<size_t>(n)), rstd(static_cast<size_t>(n)),
      dinp(static_cast<size_t>(n * kC)), dw(static_cast<size_t>(kC)), db(static_cast<size_t>(kC));
  ops::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), n, kC);
  for (auto _ : state) {
    ops::layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), mean.data(),
                            rstd.data(), n, kC);
    benchmark::DoNotOptimize(dinp.data());
  }
  SetByteCounters(state, 4.0 * kF * double(n * kC));
}
BENCHMARK(BM_RmsnormForward)->UseRealTime();
BENCHMARK(BM_RmsnormBackward)->UseRealTime();
BENCHMARK(BM_LayernormForward)->UseRealTime();
BENCHMARK(BM_LayernormBackward)->UseRealTime();

// ---- activations and residual -------------------------------------------------
void BM_GeluForward(benchmark::State& state) {
  const int64_t n = N() * kGeluHidden;
  auto inp = RandomVector(n, 1, 3.0f);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    ops::gelu_forward(out.data(), inp.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  SetByteCounters(state, 2.0 * kF * double(n));
}

void BM_GeluBackward(benchmark::State& state) {
  const int64_t n = N() * kGeluHidden;
  auto inp = RandomVector(n, 1, 3.0f), dout = RandomVector(n, 2);
  std::vector<float> dinp(static_cast<size_t>(n));
  for (auto _ : state) {
    ops::gelu_backward(dinp.data(), dout.data(), inp.data(), n);
    benchmark::DoNotOptimize(dinp.data());
  }
  SetByteCounters(state, 4.0 * kF * double(n));
}

void BM_SwigluForward(benchmark::State& state) {
  const int64_t n = N();
  auto inp = RandomVector(n * 2 * kHidden, 1, 3.0f);
  std::vector<float> out(static_cast<size_t>(n * kHidden));
  for (auto _ : state) {
    ops::swiglu_forward(out.data(), inp.data(), n, kHidden);
    benchmark::DoNotOptimize(out.data());
  }
  SetByteCounters(state, 3.0 * kF * double(n * kHidden));  // 2H read, H written
}

void BM_SwigluBackward(benchmark::State& state) {
  const int64_t n = N();
  auto inp = RandomVector(n * 2 * kHidden, 1, 3.0f), dout = RandomVector(n * kHidden, 2);
  std::vector<float> dinp(static_cast<size_t>(n * 2 * kHidden));
  for (auto _ : state) {
    ops::swiglu_backward(dinp.data(), dout.data(), inp.data(), n, kHidden);
    benchmark::DoNotOptimize(dinp.data());
  }
  SetByteCounters(state, 7.0 * kF * double(n * kHidden));  // dout H, inp 2H read; dinp 2H read + write
}

void BM_ResidualForward(benchmark::State& state) {
  const int64_t n = N() * kC;
  auto a = RandomVector(n, 1), b = RandomVector(n, 2);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    ops::residual_forward(out.data(), a.data(), b.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  SetByteCounters(state, 3.0 * kF * double(n));
}

void BM_ResidualBackward(benchmark::State& state) {
  const int64_t n = N() * kC;
  auto dout = RandomVector(n, 1);
  std::vector<float> da(static_cast<size_t>(n)), db(static_cast<size_t>(n));
  for (auto _ : state) {
    ops::residual_backward(da.data(), db.data(), dout.data(), n);
    benchmark::DoNotOptimize(da.data());
  }
  SetByteCounters(state, 5.0 * kF * double(n));  // dout read; da, db read + write
}
BENCHMARK(BM_GeluForward)->UseRealTime();
BENCHMARK(BM_GeluBackward)->UseRealTime();
BENCHMARK(BM_SwigluForward)->UseRealTime();
BENCHMARK(BM_SwigluBackward)->UseRealTime();
BENCHMARK(BM_ResidualForward)->UseRealTime();
BENCHMARK(BM_ResidualBackward)->UseRealTime();

// ---- losses ---------------------------------------------------------------------
std::vector<int32_t> LossTargets(int64_t n) {
  std::vector<int32_t> t = RandomIds(n, int32_t(kVocab), 5);
  for (size_t i = 0; i < t.size(); i += 7) t[i] = -1;  // some ignored rows, like image tokens
  return t;
}

void BM_CrossEntropyForward(benchmark::State& state) {
  const int64_t n = N();
  auto logits = RandomVector(n * kVocab, 1, 4.0f);
  auto targets = LossTargets(n);
  std::vector<float> losses(static_cast<size_t>(n));
  double sum = 0;
  for (auto _ : state) {
    ops::cross_entropy_forward(losses.data(), &sum, logits.data(), targets.data(), n, kVocab);
    benchmark::DoNotOptimize(sum);
  }
  SetByteCounters(state, kF * double(n * kVocab));  // logits read once
}

void BM_CrossEntropyBackward(benchmark::State& state) {
  const int64_t n = N();
  auto logits = RandomVector(n * kVocab, 1, 4.0f);
  auto targets = LossTargets(n);
  std::vector<float> dlogits(static_cast<size_t>(n * kVocab));
  for (auto _ : state) {
    ops::cross_entropy_backward(dlogits.data(), logits.data(), targets.data(), n, kVocab, 1e-3f);
    benchmark::DoNotOptimize(dlogits.data());
  }
  SetByteCounters(state, 3.0 * kF * double(n * kVocab));  // logits read; dlogits read + write
}

void BM_MseForward(benchmark::State& state) {
  const int64_t n = N() * kC;
  auto pred = RandomVector(n, 1), target = RandomVector(n, 2);
  double sum = 0;
  for (auto _ : state) {
    ops::mse_rows_forward(&sum, pred.data(), target.data(), 1, n, 1.0);
    benchmark::DoNotOptimize(sum);
  }
  SetByteCounters(state, 2.0 * kF * double(n));
}

void BM_MseBackward(benchmark::State& state) {
  const int64_t n = N() * kC;
  auto pred = RandomVector(n, 1), target = RandomVector(n, 2);
  std::vector<float> dpred(static_cast<size_t>(n));
  for (auto _ : state) {
    ops::mse_backward(dpred.data(), pred.data(), target.data(), n, 1e-3f);
    benchmark::DoNotOptimize(dpred.data());
  }
  SetByteCounters(state, 4.0 * kF * double(n));
}
BENCHMARK(BM_CrossEntropyForward)->UseRealTime();
BENCHMARK(BM_CrossEntropyBackward)->UseRealTime();
BENCHMARK(BM_MseForward)->UseRealTime();
BENCHMARK(BM_MseBackward)->UseRealTime();

// Removes --threads=N from argv (google benchmark rejects unknown flags).
int TakeThreadsFlag(int* argc, char** argv) {
  int threads = 0;
  if (const char* env = std::getenv("BRAID_BENCH_THREADS")) threads = std::atoi(env);
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  return threads;
}

}  // namespace

// Read by the train-step benchmark (train_step_bench.cc) for its MFU.
double SgemmCeilingGflops() { return g_ceilings.sgemm_gflops; }

}  // namespace braid::bench

int main(int argc, char** argv) {
  using namespace braid::bench;
  braid::EnsureOpenBlasCore(argv);  // same kernels as the braid binaries
  const int threads = TakeThreadsFlag(&argc, argv);
  benchmark::Initialize(&argc, argv);  // parses flags only (and handles --help)
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  braid::SetComputeThreads(threads);

  // Ceilings first, measured once, before any benchmark runs.
  g_ceilings.sgemm_gflops = MeasureSgemmGflops(1024);
  g_ceilings.memcpy_gbps = MeasureCopyGbps(int64_t{512} << 20, 5);
  g_ceilings.cache_copy_gbps = MeasureCopyGbps(int64_t{1} << 20, 200);
  // OpenBLAS picks its kernels from the CPUID at load time; a CPU newer than
  // the library falls back to a generic core (OPENBLAS_CORETYPE overrides).
  const std::string blas_core = openblas_get_corename();
  std::printf("braid_bench: compute threads %d, OpenBLAS core %s\n", braid::ComputeThreads(), blas_core.c_str());
  std::printf("ceiling sgemm 1024^3          %8.1f GFLOP/s\n", g_ceilings.sgemm_gflops);
  std::printf("ceiling memcpy 512 MiB        %8.1f GB/s (read + write)\n", g_ceilings.memcpy_gbps);
  std::printf("ceiling memcpy 1 MiB (cache)  %8.1f GB/s (read + write)\n", g_ceilings.cache_copy_gbps);
  std::printf("demo packed microbatch: %lld tokens in %d sequences of 20..200\n", (long long)N(), NumSeqs());
  std::fflush(stdout);
  benchmark::AddCustomContext("compute_threads", std::to_string(braid::ComputeThreads()));
  benchmark::AddCustomContext("openblas_core", blas_core);
  benchmark::AddCustomContext("ceiling_sgemm_gflops", std::to_string(g_ceilings.sgemm_gflops));
  benchmark::AddCustomContext("ceiling_memcpy_gbps", std::to_string(g_ceilings.memcpy_gbps));
  benchmark::AddCustomContext("ceiling_cache_copy_gbps", std::to_string(g_ceilings.cache_copy_gbps));

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
