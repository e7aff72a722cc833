#include "common/worker/tp_checkpoint.h"

namespace braid::worker {
namespace {

// Places the local array `local` (laid out like pb) into `out` (laid out
// like w): each view where it belongs (found by name), slices into their
// place, replicated tensors only when asked.
Status Place(const ParamBuffer& pb, const ParamBuffer& w, const std::vector<float>& local, std::vector<float>& out,
             bool place_replicated) {
  for (const ParamView& v : pb.views()) {
    if (v.shard.replicated() && !place_replicated) continue;
    const int i = w.Find(v.name);
    if (i < 0 || w.view(i).shape != v.full_shape)
      return Status::Internal("checkpoint gather: " + v.name + " is not a tensor of the whole module");
    parallel::InsertShard(local.data() + v.offset, v.full_shape, v.shard, out.data() + w.view(i).offset);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<WholeModule>> GatherWholeModule(const ParamBuffer& pb, const AdamW& opt,
                                                         const ParamBuffer& whole, bool place_replicated,
                                                         DpGroup* group) {
  auto out = std::make_unique<WholeModule>();
  for (const ParamView& v : whole.views()) out->params.Add(v.name, v.full_shape, v.decay);
  out->params.Allocate();
  out->optim = std::make_unique<AdamW>(out->params.size(), opt.config());
  out->optim->set_t(opt.t());
  // The rank's state on the host: its own arrays on the cpu, copies of them
  // on a device (the calling thread's).
  std::vector<float> params_copy, m_copy, v_copy;
  if (pb.on_device()) params_copy = pb.ParamsToHost();
  if (opt.on_device()) opt.MomentsToHost(&m_copy, &v_copy);
  const std::vector<float>& params = pb.on_device() ? params_copy : pb.params();
  const std::vector<float>& m = opt.on_device() ? m_copy : opt.m();
  const std::vector<float>& v = opt.on_device() ? v_copy : opt.v();
  RETURN_IF_ERROR(Place(pb, out->params, params, out->params.params(), place_replicated));
  RETURN_IF_ERROR(Place(pb, out->params, m, out->optim->m(), place_replicated));
  RETURN_IF_ERROR(Place(pb, out->params, v, out->optim->v(), place_replicated));
  if (group && group->size() > 1) {
    RETURN_IF_ERROR(group->AllReduceSum(out->params.params().data(), out->params.size()));
    RETURN_IF_ERROR(group->AllReduceSum(out->optim->m().data(), out->params.size()));
    RETURN_IF_ERROR(group->AllReduceSum(out->optim->v().data(), out->params.size()));
  }
  return out;
}

}  // namespace braid::worker
