// RankMicrobatch <-> braid.v1.WorkerMicrobatch (data.proto), and Role <->
// braid.v1.Module. Kept apart from rank_data.h so the runtime core builds
// without the generated protobuf headers.
#pragma once

#include "braid/v1/data.pb.h"
#include "braid/v1/layout.pb.h"
#include "common/worker/rank_data.h"

namespace braid::worker {

void ToProto(const RankMicrobatch& in, v1::WorkerMicrobatch* out);
RankMicrobatch FromProto(const v1::WorkerMicrobatch& in);

v1::Module ToProtoModule(Role r);
// MODULE_UNSPECIFIED and unknown values give false.
bool FromProtoModule(v1::Module m, Role* out);

}  // namespace braid::worker
