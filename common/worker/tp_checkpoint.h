// Checkpoints of tensor-parallel ranks (docs/PARALLELISM.md, "Checkpoints"):
// checkpoint files hold whole tensors, so the TP ranks of a replica
// assemble their module's whole parameters and optimizer moments before one
// of them writes; any layout then loads its slices (LoadCheckpoint).
#pragma once

#include <memory>

#include "common/optim/adamw.h"
#include "common/tensor/param_buffer.h"
#include "common/worker/transport.h"

namespace braid::worker {

struct WholeModule {
  ParamBuffer params;
  std::unique_ptr<AdamW> optim;
};

// A collective over `tp` (every rank of the group calls it, in the same
// order as its other collectives): each rank places its slices (replicated
// tensors only from TP rank 0) into zeroed whole tensors and the group sums
// them, so every rank ends with the whole module. With a group of one it
// copies. The gathered buffers have the same view names and order as `pb`.
StatusOr<std::unique_ptr<WholeModule>> GatherWholeModule(const ParamBuffer& pb, const AdamW& opt, DpGroup* tp);

}  // namespace braid::worker
