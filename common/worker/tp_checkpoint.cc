#include "common/worker/tp_checkpoint.h"

namespace braid::worker {
namespace {

// Places the local array `local` (laid out like pb) into `whole` (laid out
// like w): slices where they belong, replicated tensors only from TP rank 0.
void Place(const ParamBuffer& pb, const ParamBuffer& w, const std::vector<float>& local, std::vector<float>& whole,
           int tp_rank) {
  for (size_t i = 0; i < pb.views().size(); ++i) {
    const ParamView& v = pb.views()[i];
    if (v.shard.replicated() && tp_rank != 0) continue;
    parallel::InsertShard(local.data() + v.offset, v.full_shape, v.shard, whole.data() + w.views()[i].offset);
  }
}

}  // namespace

StatusOr<std::unique_ptr<WholeModule>> GatherWholeModule(const ParamBuffer& pb, const AdamW& opt, DpGroup* tp) {
  auto out = std::make_unique<WholeModule>();
  for (const ParamView& v : pb.views()) out->params.Add(v.name, v.full_shape, v.decay);
  out->params.Allocate();
  out->optim = std::make_unique<AdamW>(out->params.size(), opt.config());
  out->optim->set_t(opt.t());
  const int rank = tp ? tp->rank() : 0;
  Place(pb, out->params, pb.params(), out->params.params(), rank);
  Place(pb, out->params, opt.m(), out->optim->m(), rank);
  Place(pb, out->params, opt.v(), out->optim->v(), rank);
  if (tp && tp->size() > 1) {
    RETURN_IF_ERROR(tp->AllReduceSum(out->params.params().data(), out->params.size()));
    RETURN_IF_ERROR(tp->AllReduceSum(out->optim->m().data(), out->params.size()));
    RETURN_IF_ERROR(tp->AllReduceSum(out->optim->v().data(), out->params.size()));
  }
  return out;
}

}  // namespace braid::worker
