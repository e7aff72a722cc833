// Core types <-> braid.v1 messages. Only the gRPC wiring includes this.
// Thread-safe (pure functions).
#pragma once

#include "braid/v1/job.pb.h"
#include "braid/v1/worker.pb.h"
#include "services/orchestrator/core_types.h"
#include "services/orchestrator/worker_table.h"

namespace braid::orchestrator {

void ToProto(const Layout& layout, braid::v1::JobLayout* out);
void ToProto(const Job& job, braid::v1::Job* out);
void ToProto(const Assignment& a, braid::v1::Assignment* out);
WorkerRegistration FromProto(const braid::v1::RegisterWorkerRequest& req);
StepReport FromProto(const braid::v1::ReportStepRequest& req);

}  // namespace braid::orchestrator
