// JobService over the Orchestrator: converts messages, maps Status.
#include "braid/v1/job.grpc.pb.h"
#include "common/rpc/status_convert.h"
#include "services/orchestrator/proto_convert.h"
#include "services/orchestrator/services.h"

namespace braid::orchestrator {
namespace {

namespace pb = braid::v1;
using rpc::ToGrpcStatus;

class JobServiceImpl final : public pb::JobService::Service {
 public:
  JobServiceImpl(Orchestrator* o, double poll) : o_(o), poll_(poll) {}

  grpc::Status SubmitJob(grpc::ServerContext*, const pb::SubmitJobRequest* req, pb::SubmitJobReply* reply) override {
    StatusOr<Job> job = o_->SubmitJob(req->job_yaml(), req->source_name());
    if (!job.ok()) return ToGrpcStatus(job.status());
    ToProto(*job, reply->mutable_job());
    return grpc::Status::OK;
  }

  grpc::Status GetJob(grpc::ServerContext*, const pb::GetJobRequest* req, pb::GetJobReply* reply) override {
    StatusOr<Job> job = o_->GetJob(req->job_id());
    if (!job.ok()) return ToGrpcStatus(job.status());
    ToProto(*job, reply->mutable_job());
    return grpc::Status::OK;
  }

  grpc::Status ListJobs(grpc::ServerContext*, const pb::ListJobsRequest*, pb::ListJobsReply* reply) override {
    for (const Job& j : o_->ListJobs()) ToProto(j, reply->add_jobs());
    return grpc::Status::OK;
  }

  grpc::Status CancelJob(grpc::ServerContext*, const pb::CancelJobRequest* req, pb::CancelJobReply* reply) override {
    StatusOr<Job> job = o_->CancelJob(req->job_id(), req->reason());
    if (!job.ok()) return ToGrpcStatus(job.status());
    ToProto(*job, reply->mutable_job());
    return grpc::Status::OK;
  }

  // A snapshot, then every event; wakes every poll_ seconds to notice a
  // client that left or a server shutting down.
  grpc::Status WatchJob(grpc::ServerContext* ctx, const pb::WatchJobRequest* req,
                        grpc::ServerWriter<pb::JobEvent>* writer) override {
    const JobTable& jobs = o_->jobs();
    StatusOr<JobTable::Event> snap = jobs.Snapshot(req->job_id());
    if (!snap.ok()) return ToGrpcStatus(snap.status());
    if (!Write(writer, *snap)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    int64_t seq = snap->seq;
    if (IsFinal(snap->job.state)) return grpc::Status::OK;
    while (true) {
      if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
      if (jobs.shutting_down()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "orchestrator is shutting down");
      StatusOr<std::vector<JobTable::Event>> events = jobs.WaitEvents(req->job_id(), seq, poll_);
      if (!events.ok()) return ToGrpcStatus(events.status());
      for (const JobTable::Event& e : *events) {
        seq = e.seq;
        if (!Write(writer, e)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
        if (IsFinal(e.job.state)) return grpc::Status::OK;
      }
    }
  }

 private:
  static bool Write(grpc::ServerWriter<pb::JobEvent>* writer, const JobTable::Event& e) {
    pb::JobEvent ev;
    ev.set_kind(static_cast<pb::JobEvent::Kind>(e.kind));
    ToProto(e.job, ev.mutable_job());
    return writer->Write(ev);
  }

  Orchestrator* o_;
  double poll_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeJobService(Orchestrator* orchestrator, double watch_poll_seconds) {
  return std::make_unique<JobServiceImpl>(orchestrator, watch_poll_seconds);
}

}  // namespace braid::orchestrator
