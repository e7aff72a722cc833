#include "common/ops/cuda/cuda_backend.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/ops/cuda/activation.h"
#include "common/ops/cuda/adamw.h"
#include "common/ops/cuda/attention.h"
#include "common/ops/cuda/block_reduce.h"
#include "common/ops/cuda/check.h"
#include "common/ops/cuda/diffusion.h"
#include "common/ops/cuda/embedding.h"
#include "common/ops/cuda/loss.h"
#include "common/ops/cuda/matmul.h"
#include "common/ops/cuda/norm.h"
#include "common/ops/cuda/patch.h"
#include "common/ops/cuda/rows.h"
#include "common/ops/cuda/scratch.h"
#include "common/ops/cuda/staging_ring.h"

namespace braid::cuda {

void* CudaMemory::Allocate(size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) return nullptr;
  const cudaError_t e = cudaMallocAsync(&p, bytes, ctx_->stream());
  if (e != cudaSuccess) {
    std::fprintf(stderr, "braid: %s\n",
                 CudaError(e, "cudaMallocAsync(tensor)", __FILE__, __LINE__).ToString().c_str());
    std::abort();
  }
  BRAID_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, ctx_->stream()));
  if (shadows_ != nullptr) shadows_->NoteFree(p, bytes);  // a range there was freed unseen: drop it
  return p;
}

void CudaMemory::Free(void* p, size_t bytes) {
  if (p == nullptr) return;
  if (shadows_ != nullptr) shadows_->NoteFree(p, bytes);
  BRAID_CUDA_CHECK(cudaFreeAsync(p, ctx_->stream()));
}

void CudaMemory::Zero(void* p, size_t bytes) {
  if (shadows_ != nullptr) shadows_->NoteWrite(p, bytes);
  if (bytes > 0) BRAID_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, ctx_->stream()));
}

void CudaMemory::CopyDeviceToDevice(void* dst, const void* src, size_t bytes) {
  if (shadows_ != nullptr) shadows_->NoteWrite(dst, bytes);
  if (bytes > 0) BRAID_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx_->stream()));
}

void CudaMemory::CopyToHost(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  BRAID_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx_->stream()));
  BRAID_CUDA_CHECK(cudaStreamSynchronize(ctx_->stream()));
}

struct CudaMemory::Staging {
  explicit Staging(size_t bytes) : ring(bytes) {}
  // Teardown may run with no Context current: errors are printed, not recorded.
  ~Staging() {
    auto warn = [](cudaError_t e, const char* call) {
      if (e != cudaSuccess)
        std::fprintf(stderr, "braid: %s\n", CudaError(e, call, __FILE__, __LINE__).ToString().c_str());
    };
    for (auto& [id, e] : events) warn(cudaEventSynchronize(e), "cudaEventSynchronize(upload)");
    for (auto& [id, e] : events) warn(cudaEventDestroy(e), "cudaEventDestroy(upload)");
    for (cudaEvent_t e : spare) warn(cudaEventDestroy(e), "cudaEventDestroy(upload)");
    if (pinned != nullptr) warn(cudaFreeHost(pinned), "cudaFreeHost(upload staging)");
  }
  StagingRing ring;
  char* pinned = nullptr;
  std::unordered_map<uint64_t, cudaEvent_t> events;  // uploads not yet waited for
  std::vector<cudaEvent_t> spare;                    // events to reuse
};

CudaMemory::CudaMemory(Context* ctx, ParamShadows* shadows) : ctx_(ctx), shadows_(shadows) {}

CudaMemory::~CudaMemory() = default;

void CudaMemory::CopyFromHost(void* dst, const void* src, size_t bytes) {
  if (shadows_ != nullptr) shadows_->NoteWrite(dst, bytes);
  if (bytes == 0) return;
  if (!staging_ && !staging_failed_) {
    auto s = std::make_unique<Staging>(kStagingBytes);
    const cudaError_t e = cudaMallocHost(reinterpret_cast<void**>(&s->pinned), s->ring.capacity());
    if (e == cudaSuccess) {
      staging_ = std::move(s);
    } else {
      (void)cudaGetLastError();  // not sticky: fall back to pageable copies
      staging_failed_ = true;
      std::fprintf(stderr, "braid: %s; uploads copy from pageable memory (they may wait for the stream)\n",
                   CudaError(e, "cudaMallocHost(upload staging)", __FILE__, __LINE__).ToString().c_str());
    }
  }
  const std::optional<StagingRing::Slot> slot =
      staging_ ? staging_->ring.Reserve(bytes) : std::optional<StagingRing::Slot>();
  if (!slot) {  // larger than the ring, or no ring: the driver stages it (it may wait for the stream)
    BRAID_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx_->stream()));
    return;
  }
  Staging& st = *staging_;
  for (uint64_t id : slot->waits) {  // the copies that last read this region (normally long done)
    auto it = st.events.find(id);
    if (it == st.events.end()) continue;
    BRAID_CUDA_CHECK(cudaEventSynchronize(it->second));
    st.spare.push_back(it->second);
    st.events.erase(it);
  }
  std::memcpy(st.pinned + slot->offset, src, bytes);
  BRAID_CUDA_CHECK(cudaMemcpyAsync(dst, st.pinned + slot->offset, bytes, cudaMemcpyHostToDevice, ctx_->stream()));
  cudaEvent_t done = nullptr;
  if (!st.spare.empty()) {
    done = st.spare.back();
    st.spare.pop_back();
  } else if (const cudaError_t e = cudaEventCreateWithFlags(&done, cudaEventDisableTiming); e != cudaSuccess) {
    RecordError(CudaError(e, "cudaEventCreateWithFlags(upload)", __FILE__, __LINE__));
    // Without an event the region cannot be reused safely: wait for the copy now.
    BRAID_CUDA_CHECK(cudaStreamSynchronize(ctx_->stream()));
    return;
  }
  BRAID_CUDA_CHECK(cudaEventRecord(done, ctx_->stream()));
  st.events[slot->id] = done;
}

namespace {

// The loss forwards add their sums into a device double (the step's
// scalars, read back once per step); nothing here waits for the stream. On
// a CUDA error the Context records it and the sum is left as it was.
// A loss kernel's device totals (its count is not used: the callers count
// their targets on the host).
struct LossTotals {
  double sum;
  int64_t count;
};

void CrossEntropyForward(float* losses, double* loss_sum, const float* logits, const int32_t* targets, int64_t N,
                         int64_t V) {
  const size_t rows_bytes = losses == nullptr ? static_cast<size_t>(N) * sizeof(float) : 0;
  const Scratch scratch(sizeof(LossTotals) + rows_bytes, "cudaMallocAsync(cross-entropy scratch)");
  if (!scratch.ok()) return;
  auto* totals = scratch.at<LossTotals>();
  float* rows = losses != nullptr ? losses : scratch.at<float>(sizeof(LossTotals));
  ops::cuda::cross_entropy_forward<float>(rows, &totals->sum, &totals->count, logits, targets, N, V);
  ops::cuda::add_scalar(loss_sum, &totals->sum);
}

// The vocabulary-parallel loss's third piece: the row sums for the backward,
// and the loss added into a device double (null: none).
void VocabCeLoss(float* row_sum, double* loss_sum, const float* row_max, const float* sums, const int32_t* targets,
                 int64_t N) {
  const Scratch scratch(sizeof(LossTotals) + static_cast<size_t>(N) * sizeof(float),
                        "cudaMallocAsync(vocab ce scratch)");
  if (!scratch.ok()) return;
  auto* totals = scratch.at<LossTotals>();
  ops::cuda::vocab_parallel_loss(scratch.at<float>(sizeof(LossTotals)), row_sum, &totals->sum, &totals->count, row_max,
                                 sums, targets, N);
  if (loss_sum != nullptr) ops::cuda::add_scalar(loss_sum, &totals->sum);
}

void MseRowsForward(double* sum, const float* pred, const float* target, int64_t rows, int64_t cols, double divisor) {
  if (rows <= 0) return;
  const Scratch row_sse(static_cast<size_t>(rows) * sizeof(double), "cudaMallocAsync(mse row sums)");
  if (!row_sse.ok()) return;
  ops::cuda::mse_rows_forward<float>(sum, pred, target, rows, cols, divisor, row_sse.at<double>());
}

void GradNormInto(double* norm, const float* grads, int64_t n) {
  const Scratch partials(kSumPartials * sizeof(double), "cudaMallocAsync(grad norm partials)");
  if (!partials.ok()) return;
  ops::cuda::grad_norm(norm, grads, n, partials.at<double>());
}

void AdamWStep(float* p, float* m, float* v, const float* g, const uint8_t* mask, int64_t n, float lr, float beta1,
               float beta2, float eps, float bc1, float bc2_sqrt, float decay_on) {
  const math::AdamWScalars<float> s{lr, beta1, beta2, eps, bc1, bc2_sqrt};
  ops::cuda::adamw_step(p, m, v, g, mask, n, s, decay_on);
}

ops::DeviceOps MakeCudaOps() {
  namespace k = ::braid::ops::cuda;
  ops::DeviceOps t;
  t.name = "cuda";
  t.gelu_forward = &k::gelu_forward<float>;
  t.gelu_backward = &k::gelu_backward<float>;
  t.swiglu_forward = &k::swiglu_forward<float>;
  t.swiglu_backward = &k::swiglu_backward<float>;
  t.residual_forward = &k::residual_forward<float>;
  t.residual_backward = &k::residual_backward<float>;
  t.embedding_forward = &k::embedding_forward<float>;
  t.embedding_backward = &k::embedding_backward<float>;
  t.add_positions_forward = &k::add_positions_forward<float>;
  t.add_positions_backward = &k::add_positions_backward<float>;
  t.matmul_forward = &k::matmul_forward<float>;
  t.matmul_backward = [](float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                         const float* weight, int64_t N, int64_t C, int64_t OC) {
    k::matmul_backward<float, float>(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
  };
  t.gemm = &k::gemm<float>;
  t.gather_rows = &k::gather_rows<float>;
  t.scatter_rows = &k::scatter_rows<float>;
  t.scatter_add_rows = &k::scatter_add_rows<float>;
  t.zero_rows = &k::zero_rows<float>;
  t.add_bias = &k::add_bias<float>;
  t.copy = &k::copy<float>;
  t.accumulate = &k::accumulate<float>;
  t.rmsnorm_forward = &k::rmsnorm_forward<float>;
  t.rmsnorm_backward = &k::rmsnorm_backward<float>;
  t.layernorm_forward = &k::layernorm_forward<float>;
  t.layernorm_backward = &k::layernorm_backward<float>;
  t.attention_forward = &k::attention_forward<float>;
  t.attention_backward = &k::attention_backward<float>;
  t.cross_entropy_forward = &CrossEntropyForward;
  t.cross_entropy_backward = &k::cross_entropy_backward<float>;
  t.mse_rows_forward = &MseRowsForward;
  t.vocab_embedding_forward = &k::vocab_embedding_forward<float>;
  t.vocab_embedding_backward = &k::vocab_embedding_backward<float>;
  t.vocab_ce_row_max = &k::vocab_parallel_row_max<float>;
  t.vocab_ce_exp_sums = &k::vocab_parallel_exp_sums<float>;
  t.vocab_ce_loss = &VocabCeLoss;
  t.vocab_ce_backward = &k::vocab_parallel_cross_entropy_backward<float>;
  t.mse_backward = &k::mse_backward<float>;
  t.grad_norm = &GradNormInto;
  t.clip_to_norm = &ops::cuda::clip_to_norm;
  t.adamw_step = &AdamWStep;
  t.patchify = &k::patchify<float>;
  t.unpatchify = &k::unpatchify<float>;
  // diffusion.h (DiT)
  t.timestep_features = &k::timestep_features<float>;
  t.diffusion_noise = &k::diffusion_noise<float>;
  t.keyed_normal = &k::keyed_normal<float>;
  t.ddim_update = &k::ddim_update<float>;
  t.diffusion_to_pixels = &k::diffusion_to_pixels<float>;
  return t;
}

}  // namespace

const ops::DeviceOps& CudaOps() {
  static const ops::DeviceOps table = MakeCudaOps();
  return table;
}

}  // namespace braid::cuda
