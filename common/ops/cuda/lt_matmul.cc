#include "common/ops/cuda/lt_matmul.h"

#include <cublasLt.h>

#include <atomic>
#include <compare>
#include <map>
#include <memory>
#include <string>

#include "common/base/check.h"
#include "common/ops/cuda/check.h"
#include "common/ops/cuda/context.h"
#include "common/ops/cuda/gemm_plan.h"

namespace braid::ops::cuda {
namespace {

std::atomic<bool> g_allow_tf32{false};

// Beyond this many entries the cache is dropped and rebuilt (a run uses a
// few dozen shapes; this bounds a pathological caller).
constexpr size_t kMaxCacheEntries = 1024;

struct Key {
  int device;
  size_t workspace_bytes;
  bool trans_a, trans_b;
  int64_t m, n, k, lda, ldb, ldc;
  int ab_type, c_type, compute;
  bool has_bias;
  uint32_t align_a, align_b, align_c, align_bias;
  auto operator<=>(const Key&) const = default;
};

// Owns the descriptors of one cached problem.
struct Entry {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  Entry() = default;
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;
  ~Entry() {  // host-side frees; teardown has nowhere to report a failure
    if (c != nullptr) cublasLtMatrixLayoutDestroy(c);
    if (b != nullptr) cublasLtMatrixLayoutDestroy(b);
    if (a != nullptr) cublasLtMatrixLayoutDestroy(a);
    if (op != nullptr) cublasLtMatmulDescDestroy(op);
  }
};

using Cache = std::map<Key, std::unique_ptr<Entry>>;

Cache& ThreadCache() {
  thread_local Cache cache;
  return cache;
}

struct PreferenceDeleter {
  void operator()(cublasLtMatmulPreferenceOpaque_t* p) const { cublasLtMatmulPreferenceDestroy(p); }
};

std::string Describe(const LtMatmulArgs& x, cublasComputeType_t compute) {
  return "column-major m=" + std::to_string(x.m) + " n=" + std::to_string(x.n) + " k=" + std::to_string(x.k) +
         " trans_a=" + std::to_string(x.trans_a) + " trans_b=" + std::to_string(x.trans_b) +
         " lda=" + std::to_string(x.lda) + " ldb=" + std::to_string(x.ldb) + " ldc=" + std::to_string(x.ldc) +
         " ab_type=" + std::to_string(static_cast<int>(x.ab_type)) +
         " c_type=" + std::to_string(static_cast<int>(x.c_type)) +
         " compute=" + std::to_string(static_cast<int>(compute)) + (x.bias != nullptr ? " bias" : "");
}

Status Build(const Key& key, const LtMatmulArgs& x, cublasComputeType_t compute, const braid::cuda::Context& ctx,
             Entry* e) {
  BRAID_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescCreate(&e->op, compute, CUDA_R_32F));
  const cublasOperation_t ta = x.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = x.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  BRAID_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  BRAID_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  if (x.bias != nullptr) {
    const cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    const int32_t bias_type = x.c_type;
    BRAID_CUBLAS_RETURN_IF_ERROR(
        cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)));
    BRAID_CUBLAS_RETURN_IF_ERROR(
        cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
    BRAID_CUBLAS_RETURN_IF_ERROR(
        cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &x.bias, sizeof(x.bias)));
  }
  const ColMajorGemm g{x.trans_a, x.trans_b, x.m, x.n, x.k, x.lda, x.ldb, x.ldc, false};
  BRAID_CUBLAS_RETURN_IF_ERROR(cublasLtMatrixLayoutCreate(&e->a, x.ab_type, static_cast<uint64_t>(g.a_rows()),
                                                          static_cast<uint64_t>(g.a_cols()), x.lda));
  BRAID_CUBLAS_RETURN_IF_ERROR(cublasLtMatrixLayoutCreate(&e->b, x.ab_type, static_cast<uint64_t>(g.b_rows()),
                                                          static_cast<uint64_t>(g.b_cols()), x.ldb));
  BRAID_CUBLAS_RETURN_IF_ERROR(
      cublasLtMatrixLayoutCreate(&e->c, x.c_type, static_cast<uint64_t>(x.m), static_cast<uint64_t>(x.n), x.ldc));

  cublasLtMatmulPreference_t raw_pref = nullptr;
  BRAID_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceCreate(&raw_pref));
  std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, PreferenceDeleter> pref(raw_pref);
  const uint64_t workspace = ctx.workspace_bytes();
  BRAID_CUBLAS_RETURN_IF_ERROR(cublasLtMatmulPreferenceSetAttribute(
      pref.get(), CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof(workspace)));
  const struct {
    cublasLtMatmulPreferenceAttributes_t attr;
    uint32_t bytes;
  } alignments[] = {{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.align_a},
                    {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.align_b},
                    {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.align_c},
                    {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.align_c}};
  for (const auto& al : alignments)
    BRAID_CUBLAS_RETURN_IF_ERROR(
        cublasLtMatmulPreferenceSetAttribute(pref.get(), al.attr, &al.bytes, sizeof(al.bytes)));

  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t s =
      cublasLtMatmulAlgoGetHeuristic(ctx.lt(), e->op, e->a, e->b, e->c, e->c, pref.get(), 1, &result, &found);
  if (s == CUBLAS_STATUS_NOT_SUPPORTED || (s == CUBLAS_STATUS_SUCCESS && found == 0))
    return Status::Unimplemented("cuBLASLt has no algorithm for " + Describe(x, compute) + " (cuBLAS status " +
                                 std::to_string(static_cast<int>(s)) + ")");
  if (s != CUBLAS_STATUS_SUCCESS)
    return Status::Internal(
        braid::cuda::CublasError(s, "cublasLtMatmulAlgoGetHeuristic", __FILE__, __LINE__).message() + " for " +
        Describe(x, compute));
  e->algo = result.algo;
  return Status::Ok();
}

}  // namespace

void SetAllowTf32(bool allow) { g_allow_tf32.store(allow, std::memory_order_relaxed); }
bool AllowTf32() { return g_allow_tf32.load(std::memory_order_relaxed); }

size_t LtCacheSize() { return ThreadCache().size(); }

void LtMatmul(const LtMatmulArgs& x) {
  braid::cuda::Context* ctx = braid::cuda::Current();
  BRAID_CHECK_MSG(ctx != nullptr, "CUDA GEMM called with no cuda::Context on this thread");
  if (x.m <= 0 || x.n <= 0 || x.k <= 0) {
    ctx->Record(Status::InvalidArgument("LtMatmul needs positive sizes: " + Describe(x, CUBLAS_COMPUTE_32F)));
    return;
  }
  const cublasComputeType_t compute =
      (x.ab_type == CUDA_R_32F && AllowTf32()) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const Key key{ctx->device(),
                ctx->workspace_bytes(),
                x.trans_a,
                x.trans_b,
                x.m,
                x.n,
                x.k,
                x.lda,
                x.ldb,
                x.ldc,
                static_cast<int>(x.ab_type),
                static_cast<int>(x.c_type),
                static_cast<int>(compute),
                x.bias != nullptr,
                PointerAlignment(reinterpret_cast<uintptr_t>(x.a)),
                PointerAlignment(reinterpret_cast<uintptr_t>(x.b)),
                PointerAlignment(reinterpret_cast<uintptr_t>(x.c)),
                PointerAlignment(reinterpret_cast<uintptr_t>(x.bias))};
  Cache& cache = ThreadCache();
  auto it = cache.find(key);
  if (it == cache.end()) {
    auto entry = std::make_unique<Entry>();
    Status s = Build(key, x, compute, *ctx, entry.get());
    if (!s.ok()) {
      ctx->Record(std::move(s));
      return;
    }
    if (cache.size() >= kMaxCacheEntries) cache.clear();
    it = cache.emplace(key, std::move(entry)).first;
  }
  Entry& e = *it->second;
  if (x.bias != nullptr)
    BRAID_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(e.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &x.bias, sizeof(x.bias)));
  BRAID_CUBLAS_CHECK(cublasLtMatmul(ctx->lt(), e.op, &x.alpha, x.a, e.a, x.b, e.b, &x.beta, x.c, e.c, x.c, e.c, &e.algo,
                                    ctx->workspace(), ctx->workspace_bytes(), ctx->stream()));
}

}  // namespace braid::ops::cuda
