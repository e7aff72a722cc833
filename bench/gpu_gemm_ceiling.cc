// gpu_gemm_ceiling: the cuBLASLt GEMM throughput of this GPU, the ceiling the
// GPU suite sets the LLM worker's MFU against (docs/GPU.md, step 9). Times
// ops::cuda::matmul_forward (out (N,OC) = inp (N,C) @ W^T, fp32
// accumulation) with CUDA events after a warm-up, for each dtype and shape,
// and prints one line per case, then `ceiling_bf16_tflops=<max>` last.
// With no device: "SKIPPED: <why>" and exit 77. Bad arguments: exit 2.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/base/status.h"
#include "common/gpu/device.h"
#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/device_array.h"
#include "common/ops/cuda/lt_matmul.h"
#include "common/ops/cuda/matmul.h"

namespace braid {
namespace {

constexpr char kUsage[] =
    "usage: gpu_gemm_ceiling [--iters N] [--warmup N] [--dtype LIST] [NxCxOC ...]\n"
    "\n"
    "Times cuBLASLt GEMMs out (N,OC) = inp (N,C) @ W (OC,C)^T with fp32 accumulation\n"
    "and prints TFLOP/s per case (2*N*C*OC flops per GEMM), then the machine-readable\n"
    "line ceiling_bf16_tflops=<max over the bf16 cases>.\n"
    "\n"
    "  NxCxOC      shapes (default: 4096x4096x4096 8192x8192x8192 8192x2048x8192\n"
    "              8192x8192x2048, the last two the 1B LLM's MLP GEMMs)\n"
    "  --dtype     comma-separated: bf16 (bf16 inputs and output), fp32 (full fp32),\n"
    "              tf32 (fp32 with TF32 tensor cores); default bf16,fp32\n"
    "  --iters N   timed GEMMs per case (default 20)\n"
    "  --warmup N  untimed GEMMs before timing (default 5)\n"
    "  --help      this text\n"
    "\n"
    "Exit status: 0 done, 1 CUDA error, 2 bad arguments, 77 no CUDA device (SKIPPED).\n";

struct Shape {
  int64_t N, C, OC;
};

struct Options {
  std::vector<Shape> shapes;
  std::vector<std::string> dtypes;
  int iters = 20;
  int warmup = 5;
  bool help = false;
};

bool ParsePositive(std::string_view s, int64_t* out) {
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) return false;
  *out = v;
  return true;
}

bool ParseShape(std::string_view s, Shape* out) {
  const size_t x1 = s.find('x');
  const size_t x2 = x1 == std::string_view::npos ? x1 : s.find('x', x1 + 1);
  if (x2 == std::string_view::npos) return false;
  return ParsePositive(s.substr(0, x1), &out->N) && ParsePositive(s.substr(x1 + 1, x2 - x1 - 1), &out->C) &&
         ParsePositive(s.substr(x2 + 1), &out->OC);
}

StatusOr<Options> ParseArgs(int argc, char** argv) {
  Options o;
  std::string dtypes = "bf16,fp32";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](const char* flag) -> StatusOr<std::string_view> {
      if (i + 1 >= argc) return Status::InvalidArgument(std::string(flag) + " needs a value");
      return std::string_view(argv[++i]);
    };
    if (a == "--help" || a == "-h") {
      o.help = true;
    } else if (a == "--iters" || a == "--warmup") {
      ASSIGN_OR_RETURN(std::string_view v, value(argv[i]));
      int64_t n = 0;
      if (!ParsePositive(v, &n) || n > 1000000)
        return Status::InvalidArgument(std::string(a) + " wants a positive count, got '" + std::string(v) + "'");
      (a == "--iters" ? o.iters : o.warmup) = static_cast<int>(n);
    } else if (a == "--dtype") {
      ASSIGN_OR_RETURN(std::string_view v, value("--dtype"));
      dtypes = std::string(v);
    } else if (!a.empty() && a[0] == '-') {
      return Status::InvalidArgument("unknown flag '" + std::string(a) + "'");
    } else {
      Shape s{};
      if (!ParseShape(a, &s))
        return Status::InvalidArgument("bad shape '" + std::string(a) + "': want NxCxOC of positive integers");
      o.shapes.push_back(s);
    }
  }
  size_t start = 0;
  while (start <= dtypes.size()) {
    const size_t comma = std::min(dtypes.find(',', start), dtypes.size());
    const std::string d = dtypes.substr(start, comma - start);
    if (d != "bf16" && d != "fp32" && d != "tf32")
      return Status::InvalidArgument("bad --dtype entry '" + d + "': want bf16, fp32 or tf32");
    o.dtypes.push_back(d);
    start = comma + 1;
  }
  if (o.shapes.empty()) o.shapes = {{4096, 4096, 4096}, {8192, 8192, 8192}, {8192, 2048, 8192}, {8192, 8192, 2048}};
  return o;
}

// Deterministic values in [-1, 1) (splitmix64): random enough that the GPU
// does real switching work, cheap for 10^8 elements.
template <typename T>
std::vector<T> Filled(int64_t n, uint64_t seed) {
  std::vector<T> v(static_cast<size_t>(n));
  uint64_t x = seed;
  for (auto& e : v) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const float f = static_cast<float>(z >> 40) * (2.0f / 16777216.0f) - 1.0f;
    if constexpr (std::is_same_v<T, float>)
      e = f;
    else
      e = __float2bfloat16_rn(f);
  }
  return v;
}

// Seconds per GEMM of one case, timed with CUDA events on the context stream.
template <typename T>
StatusOr<double> TimeCase(cuda::Context* ctx, const Shape& s, const Options& o) {
  ASSIGN_OR_RETURN(auto inp, cuda::Upload(Filled<T>(s.N * s.C, 1), ctx->stream()));
  ASSIGN_OR_RETURN(auto w, cuda::Upload(Filled<T>(s.OC * s.C, 2), ctx->stream()));
  ASSIGN_OR_RETURN(auto out, cuda::DeviceArray<T>::Alloc(s.N * s.OC, ctx->stream(), false));
  for (int i = 0; i < o.warmup; ++i)
    ops::cuda::matmul_forward<T>(out.data(), inp.data(), w.data(), nullptr, s.N, s.C, s.OC);
  RETURN_IF_ERROR(ctx->Synchronize());
  cudaEvent_t start = nullptr, stop = nullptr;
  BRAID_CUDA_RETURN_IF_ERROR(cudaEventCreate(&start));
  const cudaError_t created = cudaEventCreate(&stop);
  if (created != cudaSuccess) {
    BRAID_CUDA_CHECK(cudaEventDestroy(start));  // recorded in the context
    return cuda::CudaError(created, "cudaEventCreate(&stop)", __FILE__, __LINE__);
  }
  auto timed = [&]() -> StatusOr<double> {
    BRAID_CUDA_RETURN_IF_ERROR(cudaEventRecord(start, ctx->stream()));
    for (int i = 0; i < o.iters; ++i)
      ops::cuda::matmul_forward<T>(out.data(), inp.data(), w.data(), nullptr, s.N, s.C, s.OC);
    BRAID_CUDA_RETURN_IF_ERROR(cudaEventRecord(stop, ctx->stream()));
    BRAID_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(stop));
    RETURN_IF_ERROR(ctx->TakeError());
    float ms = 0.f;
    BRAID_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, start, stop));
    return static_cast<double>(ms) * 1e-3 / o.iters;
  };
  StatusOr<double> seconds = timed();
  BRAID_CUDA_CHECK(cudaEventDestroy(stop));  // recorded in the context: Synchronize returns it
  BRAID_CUDA_CHECK(cudaEventDestroy(start));
  RETURN_IF_ERROR(ctx->Synchronize());
  return seconds;
}

int Run(const Options& o) {
  auto count = gpu::DeviceCount();
  if (!count.ok()) {
    std::printf("SKIPPED: %s\n", count.status().message().c_str());
    return 77;
  }
  auto name = gpu::DeviceName(0);
  std::printf("device 0: %s\n", name.ok() ? name->c_str() : "?");
  auto ctx = cuda::Context::Create(0);
  if (!ctx.ok()) {
    std::fprintf(stderr, "gpu_gemm_ceiling: %s\n", ctx.status().ToString().c_str());
    return 1;
  }
  cuda::ScopedContext scope(ctx->get());
  std::map<std::string, double> best;  // dtype -> max TFLOP/s
  for (const std::string& dtype : o.dtypes)
    for (const Shape& s : o.shapes) {
      ops::cuda::SetAllowTf32(dtype == "tf32");
      StatusOr<double> sec =
          dtype == "bf16" ? TimeCase<__nv_bfloat16>(ctx->get(), s, o) : TimeCase<float>(ctx->get(), s, o);
      ops::cuda::SetAllowTf32(false);
      if (!sec.ok()) {
        std::fprintf(stderr, "gpu_gemm_ceiling: %s N=%lld C=%lld OC=%lld: %s\n", dtype.c_str(),
                     static_cast<long long>(s.N), static_cast<long long>(s.C), static_cast<long long>(s.OC),
                     sec.status().ToString().c_str());
        return 1;
      }
      const double tflops =
          2.0 * static_cast<double>(s.N) * static_cast<double>(s.C) * static_cast<double>(s.OC) / *sec / 1e12;
      std::printf("gemm dtype=%s N=%lld C=%lld OC=%lld iters=%d ms=%.4f tflops=%.1f\n", dtype.c_str(),
                  static_cast<long long>(s.N), static_cast<long long>(s.C), static_cast<long long>(s.OC), o.iters,
                  *sec * 1e3, tflops);
      std::fflush(stdout);
      best[dtype] = std::max(best[dtype], tflops);
    }
  for (const auto& [dtype, tflops] : best)
    if (dtype != "bf16") std::printf("ceiling_%s_tflops=%.1f\n", dtype.c_str(), tflops);
  if (best.count("bf16") != 0) std::printf("ceiling_bf16_tflops=%.1f\n", best["bf16"]);
  return 0;
}

}  // namespace
}  // namespace braid

int main(int argc, char** argv) {
  auto opts = braid::ParseArgs(argc, argv);
  if (!opts.ok()) {
    std::fprintf(stderr, "gpu_gemm_ceiling: %s\n(see gpu_gemm_ceiling --help)\n", opts.status().message().c_str());
    return 2;
  }
  if (opts->help) {
    std::fputs(braid::kUsage, stdout);
    return 0;
  }
  return braid::Run(*opts);
}
