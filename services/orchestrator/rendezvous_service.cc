// Rendezvous over the Orchestrator's RendezvousStore.
#include "braid/v1/rendezvous.grpc.pb.h"
#include "common/rpc/status_convert.h"
#include "services/orchestrator/services.h"

namespace braid::orchestrator {
namespace {

namespace pb = braid::v1;
using rpc::ToGrpcStatus;

class RendezvousImpl final : public pb::Rendezvous::Service {
 public:
  explicit RendezvousImpl(Orchestrator* o) : o_(o) {}

  grpc::Status SetKey(grpc::ServerContext*, const pb::SetKeyRequest* req, pb::SetKeyReply*) override {
    return ToGrpcStatus(o_->rendezvous().Set(req->key(), req->value()));
  }

  grpc::Status GetKey(grpc::ServerContext*, const pb::GetKeyRequest* req, pb::GetKeyReply* reply) override {
    StatusOr<std::string> v = o_->rendezvous().Get(req->key(), req->wait_seconds());
    if (!v.ok()) return ToGrpcStatus(v.status());
    reply->set_value(std::move(v).value());
    return grpc::Status::OK;
  }

 private:
  Orchestrator* o_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeRendezvousService(Orchestrator* orchestrator) {
  return std::make_unique<RendezvousImpl>(orchestrator);
}

}  // namespace braid::orchestrator
