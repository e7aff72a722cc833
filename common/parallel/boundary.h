// Boundary routing between two modules' layouts (docs/PARALLELISM.md,
// "Boundaries"). The step plan routes each unit (an image, a generation
// target) between *replicas* (DP indices). Inside a replica the tensors at
// a module boundary are whole on every TP rank (the encoder's projected
// embeddings, the LLM's input rows and final hidden states, their
// gradients), so any TP rank of the sender can serve any TP rank of the
// receiver. The rule, the same forward and backward:
//
//   receiver TP rank r gets the unit from sender TP rank (r mod sender_tp)
//
// so every receiver gets exactly one copy, and the sends are spread over the
// sender's TP ranks (sender t sends to receivers t, t + sender_tp, ...).
// Worked example, encoder TP 2 -> LLM TP 3: LLM TP ranks 0, 1, 2 receive
// from encoder TP ranks 0, 1, 0; encoder TP rank 0 sends to LLM TP ranks 0
// and 2, rank 1 to rank 1. Backward, LLM TP 3 -> encoder TP 2: encoder TP
// ranks 0, 1 receive from LLM TP ranks 0, 1; LLM TP rank 2 sends nothing.
#pragma once

#include <vector>

#include "common/parallel/layout.h"

namespace braid::parallel {

// The module rank in `src` (replica src_dp, pipeline stage src_stage) from
// which the receiver with TP index `receiver_tp` gets its copy.
int BoundarySource(const Layout& src, int src_dp, int src_stage, int receiver_tp);

// The module ranks in `dst` (replica dst_dp, stage dst_stage) to which the
// sender with TP index `sender_tp` (of a layout with `sender_tp_size` TP
// ranks) sends its copy; empty when sender_tp >= dst.tp.
std::vector<int> BoundaryDestinations(const Layout& dst, int dst_dp, int dst_stage, int sender_tp_size,
                                      int sender_tp);

}  // namespace braid::parallel
