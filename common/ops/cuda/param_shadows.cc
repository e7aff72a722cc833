#include "common/ops/cuda/param_shadows.h"

#include <utility>
#include <vector>

#include "common/ops/cuda/autocast_cast.h"
#include "common/ops/cuda/check.h"

namespace braid::cuda {

ParamShadows::~ParamShadows() {
  while (map_.size() > 0) Drop(map_.size() - 1);
}

void ParamShadows::Drop(int i) {
  const ShadowMap::Range r = map_.Remove(i);
  if (r.shadow == nullptr) return;
  const cudaError_t e = cudaFreeAsync(r.shadow, ctx_->stream());
  if (e != cudaSuccess) ctx_->Record(CudaError(e, "cudaFreeAsync(bf16 shadow)", __FILE__, __LINE__));
}

void ParamShadows::DropOverlapping(const void* p, size_t bytes) {
  const std::vector<int> hit = map_.Overlapping(p, bytes > 0 ? bytes : 1);
  for (auto it = hit.rbegin(); it != hit.rend(); ++it) Drop(*it);  // highest first: indices stay valid
}

Status ParamShadows::Register(const float* base, int64_t n) {
  if (base == nullptr || n <= 0) return Status::InvalidArgument("ParamShadows::Register: empty range");
  DropOverlapping(base, static_cast<size_t>(n) * sizeof(float));
  void* mirror = nullptr;
  BRAID_CUDA_RETURN_IF_ERROR(cudaMallocAsync(&mirror, static_cast<size_t>(n) * sizeof(bf16), ctx_->stream()));
  map_.Add(base, n, mirror, /*stale=*/true);
  return Status::Ok();
}

void ParamShadows::Unregister(const float* base) {
  for (int i = 0; i < map_.size(); ++i)
    if (map_.at(i).base == base) {
      Drop(i);
      return;
    }
}

const bf16* ParamShadows::Lookup(const float* w, int64_t count) {
  const int i = map_.Find(w, count);
  if (i < 0) return nullptr;
  ShadowMap::Range& r = map_.at(i);
  if (r.stale) {
    ops::cuda::cast_to_bf16(static_cast<bf16*>(r.shadow), r.base, r.n);
    r.stale = false;
  }
  return static_cast<const bf16*>(r.shadow) + map_.Offset(i, w);
}

bf16* ParamShadows::ForUpdate(const float* p, int64_t n) {
  if (p == nullptr || n <= 0) return nullptr;
  int i = map_.Find(p, n);
  if (i < 0 || map_.at(i).base != p || map_.at(i).n != n) {
    // Not exactly one range: make it one (a sub- or super-range would leave
    // parts of a mirror unwritten).
    if (Status s = Register(p, n); !s.ok()) {
      ctx_->Record(std::move(s));
      return nullptr;
    }
    i = map_.Find(p, n);
  }
  ShadowMap::Range& r = map_.at(i);
  r.stale = false;  // the update writes every element of the mirror
  return static_cast<bf16*>(r.shadow);
}

}  // namespace braid::cuda
