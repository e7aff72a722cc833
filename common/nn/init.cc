#include "common/nn/init.h"

#include <functional>
#include <vector>

#include "common/base/rng.h"
#include "common/tensor/tensor.h"

namespace braid::nn {
namespace {
uint64_t NameHash(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a: stable across platforms, unlike std::hash
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}
}  // namespace

void InitNormal(ParamBuffer& pb, int index, uint64_t seed, float std) {
  const ParamView& v = pb.view(index);
  KeyedRng rng(HashKey(seed, NameHash(v.name)));
  float* p = pb.param(index);
  if (v.shard.replicated()) {
    for (int64_t i = 0; i < v.numel; ++i) p[i] = static_cast<float>(rng.Normal()) * std;
    return;
  }
  // A tensor-parallel slice: draw the full tensor, keep this rank's part,
  // so every layout starts from the single-process model's weights.
  std::vector<float> full(static_cast<size_t>(TensorT<float>::NumelOf(v.full_shape)));
  for (float& x : full) x = static_cast<float>(rng.Normal()) * std;
  parallel::ExtractShard(full.data(), v.full_shape, v.shard, p);
}

void InitConstant(ParamBuffer& pb, int index, float value) {
  const ParamView& v = pb.view(index);
  float* p = pb.param(index);
  for (int64_t i = 0; i < v.numel; ++i) p[i] = value;
}

}  // namespace braid::nn
