// Checkpoints of sliced modules (docs/PARALLELISM.md, "Checkpoints"):
// checkpoint files hold the whole module's tensors, so the TP and PP ranks
// of a replica assemble their module's whole parameters and optimizer
// moments before one of them writes; any layout then loads its share
// (LoadCheckpoint).
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

// A collective over `group` (the replica's model-parallel group; every rank
// calls it, in the same order as its other collectives): each rank places
// its tensors, sliced or not, into zeroed buffers laid out like `whole`
// (the single-process module's views; `pb`'s views are a subset of them by
// name), tensors replicated over TP only when place_replicated (TP rank 0),
// and the group sums them, so every rank ends with the whole module. With no
// group (a rank holding the whole module) it copies. A rank on a device
// reads its state through host copies (call it with the device current).
StatusOr<std::unique_ptr<WholeModule>> GatherWholeModule(const ParamBuffer& pb, const AdamW& opt,
                                                         const ParamBuffer& whole, bool place_replicated,
                                                         DpGroup* group);

}  // namespace braid::worker
