// WorkerRegistry over the Orchestrator: converts messages, maps Status.
#include <algorithm>

#include "braid/v1/worker.grpc.pb.h"
#include "common/rpc/status_convert.h"
#include "services/orchestrator/proto_convert.h"
#include "services/orchestrator/services.h"

namespace braid::orchestrator {
namespace {

namespace pb = braid::v1;
using rpc::ToGrpcStatus;

// GetAssignment long-polls at most this long (docs/PROTOCOL.md).
constexpr double kMaxAssignmentWaitSeconds = 30;

class WorkerRegistryImpl final : public pb::WorkerRegistry::Service {
 public:
  explicit WorkerRegistryImpl(Orchestrator* o) : o_(o) {}

  grpc::Status RegisterWorker(grpc::ServerContext*, const pb::RegisterWorkerRequest* req,
                              pb::RegisterWorkerReply* reply) override {
    StatusOr<WorkerInfo> w = o_->RegisterWorker(FromProto(*req));
    if (!w.ok()) return ToGrpcStatus(w.status());
    reply->set_worker_id(w->id);
    reply->set_heartbeat_interval_seconds(o_->heartbeat_interval());
    reply->set_heartbeat_timeout_seconds(o_->heartbeat_timeout());
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext*, const pb::HeartbeatRequest* req, pb::HeartbeatReply* reply) override {
    StatusOr<WorkerCommand> c = o_->Heartbeat(req->worker_id(), req->job_id(), req->step());
    if (!c.ok()) return ToGrpcStatus(c.status());
    reply->set_command(static_cast<pb::Command>(c->command));
    reply->set_reason(c->reason);
    return grpc::Status::OK;
  }

  grpc::Status GetAssignment(grpc::ServerContext*, const pb::GetAssignmentRequest* req,
                             pb::GetAssignmentReply* reply) override {
    const double wait = std::clamp(req->wait_seconds(), 0.0, kMaxAssignmentWaitSeconds);
    StatusOr<WorkerTable::Poll> p = o_->GetAssignment(req->worker_id(), wait);
    if (!p.ok()) return ToGrpcStatus(p.status());
    reply->set_assigned(p->assigned);
    if (p->assigned) ToProto(p->assignment, reply->mutable_assignment());
    reply->set_command(static_cast<pb::Command>(p->command.command));
    return grpc::Status::OK;
  }

  grpc::Status ReportStep(grpc::ServerContext*, const pb::ReportStepRequest* req, pb::ReportStepReply* reply) override {
    StatusOr<Command> c = o_->ReportStep(FromProto(*req));
    if (!c.ok()) return ToGrpcStatus(c.status());
    reply->set_command(static_cast<pb::Command>(*c));
    return grpc::Status::OK;
  }

  grpc::Status ReportFailure(grpc::ServerContext*, const pb::ReportFailureRequest* req,
                             pb::ReportFailureReply*) override {
    return ToGrpcStatus(o_->ReportFailure(req->worker_id(), req->job_id(), req->message(), req->attempt()));
  }

  grpc::Status ReportDone(grpc::ServerContext*, const pb::ReportDoneRequest* req, pb::ReportDoneReply*) override {
    return ToGrpcStatus(o_->ReportDone(req->worker_id(), req->job_id(), req->attempt()));
  }

 private:
  Orchestrator* o_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeWorkerRegistryService(Orchestrator* orchestrator) {
  return std::make_unique<WorkerRegistryImpl>(orchestrator);
}

}  // namespace braid::orchestrator
