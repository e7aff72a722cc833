// gRPC wiring of the reorderer: braid.v1.DataService over ReordererCore.
#pragma once

#include "braid/v1/data.grpc.pb.h"
#include "services/data_reorderer/reorderer_core.h"

namespace braid::reorderer {

class DataServiceImpl final : public v1::DataService::Service {
 public:
  DataServiceImpl(ReordererCore* core, int prefetch) : core_(core), prefetch_(prefetch) {}
  grpc::Status OpenJob(grpc::ServerContext* ctx, const v1::OpenJobRequest* req, v1::OpenJobReply* reply) override;
  grpc::Status CloseJob(grpc::ServerContext* ctx, const v1::CloseJobRequest* req, v1::CloseJobReply* reply) override;
  // Streams (job, role, rank)'s microbatches for steps [start_step, end_step):
  // a producer thread plans ahead into a queue of `prefetch` microbatches.
  grpc::Status StreamMicrobatches(grpc::ServerContext* ctx, const v1::StreamMicrobatchesRequest* req,
                                  grpc::ServerWriter<v1::WorkerMicrobatch>* writer) override;

 private:
  ReordererCore* core_;
  int prefetch_;
};

}  // namespace braid::reorderer
