// The DataPlanner over the reorderer's DataService.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <mutex>

#include "braid/v1/data.grpc.pb.h"
#include "common/base/log.h"
#include "common/rpc/address_file.h"
#include "common/rpc/client_context.h"
#include "common/rpc/security.h"
#include "common/rpc/status_convert.h"
#include "services/orchestrator/proto_convert.h"
#include "services/orchestrator/services.h"

namespace braid::orchestrator {
namespace {

namespace pb = braid::v1;

class DataClient final : public DataPlanner {
 public:
  DataClient(std::string address, std::string address_file, double timeout, rpc::RpcSecurity security)
      : address_(std::move(address)),
        address_file_(std::move(address_file)),
        timeout_(timeout),
        security_(std::move(security)) {}

  Status OpenJob(const std::string& job_id, const std::string& job_yaml, const Layout& layout) override {
    ASSIGN_OR_RETURN(std::shared_ptr<pb::DataService::Stub> stub, Stub());
    pb::OpenJobRequest req;
    req.set_job_id(job_id);
    req.set_job_yaml(job_yaml);
    ToProto(layout, req.mutable_layout());
    pb::OpenJobReply reply;
    auto ctx = rpc::MakeContext(timeout_);
    Status st = rpc::FromGrpcStatus(stub->OpenJob(ctx.get(), req, &reply));
    if (!st.ok()) {
      const std::string where = address();
      // A restarted reorderer may serve elsewhere: read its address file again next time.
      if (st.code() == StatusCode::kUnavailable) Forget();
      return Status(st.code(), "DataService.OpenJob at " + where + ": " + st.message());
    }
    return Status::Ok();
  }

  void CloseJob(const std::string& job_id) override {
    auto stub = Stub();
    if (!stub.ok()) return;
    pb::CloseJobRequest req;
    req.set_job_id(job_id);
    pb::CloseJobReply reply;
    auto ctx = rpc::MakeContext(timeout_);
    const grpc::Status st = (*stub)->CloseJob(ctx.get(), req, &reply);
    if (!st.ok()) LOG_WARN("DataService.CloseJob(%s): %s", job_id.c_str(), st.error_message().c_str());
  }

  std::string address() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return address_;
  }

 private:
  void Forget() {
    std::lock_guard<std::mutex> lock(mu_);
    if (address_file_.empty()) return;
    address_.clear();
    stub_.reset();
  }
  // Shared: Forget() may drop it while another thread's call still uses it.
  StatusOr<std::shared_ptr<pb::DataService::Stub>> Stub() {
    std::lock_guard<std::mutex> lock(mu_);
    if (stub_) return stub_;
    if (address_.empty()) {
      if (address_file_.empty())
        return Status::FailedPrecondition(
            "no reorderer configured: start braid-orchestrator with --reorderer HOST:PORT or --reorderer-address-file");
      ASSIGN_OR_RETURN(address_, rpc::ReadAddressFile(address_file_, 10.0));
    }
    stub_ = pb::DataService::NewStub(rpc::MakeChannel(address_, security_));
    return stub_;
  }

  mutable std::mutex mu_;
  std::string address_;
  const std::string address_file_;
  const double timeout_;
  const rpc::RpcSecurity security_;
  std::shared_ptr<pb::DataService::Stub> stub_;
};

}  // namespace

std::unique_ptr<DataPlanner> MakeDataClient(const std::string& address, const std::string& address_file,
                                            double rpc_timeout_seconds, const rpc::RpcSecurity& security) {
  return std::make_unique<DataClient>(address, address_file, rpc_timeout_seconds, security);
}

}  // namespace braid::orchestrator
