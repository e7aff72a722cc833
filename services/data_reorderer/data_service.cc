#include "services/data_reorderer/data_service.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "common/base/log.h"
#include "common/rpc/status_convert.h"
#include "common/worker/rank_data_proto.h"

namespace braid::reorderer {

grpc::Status DataServiceImpl::OpenJob(grpc::ServerContext*, const v1::OpenJobRequest* req, v1::OpenJobReply* reply) {
  if (req->job_id().empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "job_id: must be set");
  auto n = core_->OpenJob(req->job_id(), req->job_yaml());
  if (!n.ok()) return rpc::ToGrpcStatus(n.status());
  reply->set_epoch_samples(*n);
  LOG_INFO("opened job %s (%lld samples per epoch)", req->job_id().c_str(), (long long)*n);
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::CloseJob(grpc::ServerContext*, const v1::CloseJobRequest* req, v1::CloseJobReply*) {
  core_->CloseJob(req->job_id());
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::StreamMicrobatches(grpc::ServerContext* ctx, const v1::StreamMicrobatchesRequest* req,
                                                 grpc::ServerWriter<v1::WorkerMicrobatch>* writer) {
  worker::Role role;
  if (!worker::FromProtoModule(req->role(), &role))
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "role: must be encoder, llm or generator");
  auto job = core_->Find(req->job_id());
  if (!job.ok()) return rpc::ToGrpcStatus(job.status());
  const reorder::Layout& layout = (*job)->plan_options.layout;
  const int dp = role == worker::Role::kEncoder ? layout.encoder_dp
                 : role == worker::Role::kLlm   ? layout.llm_dp
                                                : layout.generator_dp;
  if (req->rank() < 0 || req->rank() >= dp)
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "rank: " + std::to_string(req->rank()) + " is outside the module's DP size " +
                            std::to_string(dp));
  const int64_t end = req->end_step() > 0 ? req->end_step() : (*job)->cfg.train.steps;
  if (req->start_step() < 0 || req->start_step() > end)
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "start_step: out of range");

  // Producer: plans ahead into a bounded queue; the handler thread writes.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<v1::WorkerMicrobatch> queue;
  bool done = false, stop = false;
  Status error;
  const size_t cap = size_t(std::max(1, prefetch_));
  std::thread producer([&] {
    StepSharder sharder(*job);
    for (int64_t step = req->start_step(); step < end; ++step) {
      auto shards = sharder.Shards(step, role, req->rank());
      std::unique_lock<std::mutex> lock(mu);
      if (!shards.ok()) {
        error = shards.status();
        break;
      }
      for (const worker::RankMicrobatch& rb : *shards) {
        cv.wait(lock, [&] { return queue.size() < cap || stop; });
        if (stop) break;
        v1::WorkerMicrobatch m;
        worker::ToProto(rb, &m);
        queue.push_back(std::move(m));
        cv.notify_all();
      }
      if (stop) break;
    }
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  });
  grpc::Status result = grpc::Status::OK;
  while (true) {
    v1::WorkerMicrobatch m;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return !queue.empty() || done; });
      if (ctx->IsCancelled()) {
        result = grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled by the worker");
        break;
      }
      if (queue.empty()) {
        if (done) {
          if (!error.ok()) result = rpc::ToGrpcStatus(error);
          break;
        }
        continue;
      }
      m = std::move(queue.front());
      queue.pop_front();
      cv.notify_all();
    }
    if (!writer->Write(m)) {
      result = grpc::Status(grpc::StatusCode::CANCELLED, "worker went away");
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    cv.notify_all();
  }
  producer.join();
  return result;
}

}  // namespace braid::reorderer
