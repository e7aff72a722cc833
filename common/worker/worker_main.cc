#include "common/worker/worker_main.h"

#include <grpcpp/grpcpp.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "braid/v1/data.grpc.pb.h"
#include "braid/v1/worker.grpc.pb.h"
#include "common/base/blas_core.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/host_cores.h"
#include "common/base/threads.h"
#include "common/checkpoint/checkpoint.h"
#include "common/config/job_config.h"
#include "common/metrics/metrics_server.h"
#include "common/metrics/rpc_metrics.h"
#include "common/worker/worker_metrics.h"
#include "common/rpc/address_file.h"
#include "common/rpc/client_context.h"
#include "common/rpc/server.h"
#include "common/rpc/shutdown_signal.h"
#include "common/rpc/status_convert.h"
#include "common/worker/module_runner.h"
#include "common/worker/process_adapters.h"
#include "common/worker/rank_data_proto.h"
#include "common/worker/tp_checkpoint.h"
#include "common/parallel/layout.h"
#include "services/process_flags.h"

#if defined(BRAID_HAVE_CUDA)
#include "common/worker/cuda_rank_device.h"
#include "common/worker/nccl_device_boundary.h"
#include "common/worker/nccl_grad_allreduce.h"
#endif

namespace braid::worker {
namespace {

// The device of this worker's rank for a job on `job_device` (null on the
// cpu): the worker's --device, which the orchestrator matched to the job's.
StatusOr<std::unique_ptr<RankDevice>> OpenRankDevice(const std::string& job_device, const std::string& precision,
                                                     const DeviceFlags& flags, Role role, int rank) {
  if (job_device == "cpu") return std::unique_ptr<RankDevice>();
  if (flags.device != job_device)
    return Status::FailedPrecondition("the job runs on device: " + job_device + ", this worker on --device " +
                                      flags.device);
#if defined(BRAID_HAVE_CUDA)
  const RankDeviceFactory factory = CudaRankDeviceFactory(flags.device_index, precision == "bf16");
  return factory(role, rank);
#else
  (void)role;
  (void)rank;
  (void)precision;
  return Status::FailedPrecondition("device: " + job_device + ": this build of the worker has no CUDA backend");
#endif
}

struct WorkerFlags {
  ProcessFlags process;
  DeviceFlags device;
  std::string orchestrator;
  std::string orchestrator_address_file;
  std::string host = "127.0.0.1";
  int threads = 1;
  bool adaptive_threads = false;
  std::string name;
  double comm_timeout = 60;
};

// Reads a job's microbatches from the reorderer on a thread, a bounded
// queue ahead of compute. It asks for kWindowSteps steps per stream, so
// neither side buffers more than that however large the flow-control
// windows grow, and a restarted reorderer is found at the next window.
class MicrobatchStream {
 public:
  static constexpr int64_t kWindowSteps = 8;

  MicrobatchStream(std::shared_ptr<grpc::Channel> channel, const v1::StreamMicrobatchesRequest& req, size_t capacity)
      : capacity_(capacity) {
    stub_ = v1::DataService::NewStub(std::move(channel));
    thread_ = std::thread([this, req] { Run(req); });
  }
  ~MicrobatchStream() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      if (ctx_) ctx_->TryCancel();
      cv_.notify_all();
    }
    thread_.join();
  }
  // The next microbatch, or an error when the stream ended or broke.
  StatusOr<RankMicrobatch> Next(double timeout_seconds, const std::atomic<bool>& cancelled) {
    std::unique_lock<std::mutex> lock(mu_);
    const double deadline = NowSeconds() + timeout_seconds;
    while (queue_.empty()) {
      if (done_) return status_.ok() ? Status::OutOfRange("data stream ended") : status_;
      if (cancelled) return Status::Unavailable("cancelled while waiting for data");
      if (NowSeconds() > deadline) return Status(StatusCode::kDeadlineExceeded, "no microbatch from the reorderer");
      cv_.wait_for(lock, std::chrono::milliseconds(250));
    }
    RankMicrobatch m = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return m;
  }

 private:
  void Run(v1::StreamMicrobatchesRequest req) {
    const int64_t end = req.end_step();
    Status s;
    for (int64_t first = req.start_step(); first < end && s.ok();) {
      req.set_start_step(first);
      req.set_end_step(std::min(end, first + kWindowSteps));
      grpc::ClientContext ctx;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (closed_) break;
        ctx_ = &ctx;
      }
      auto reader = stub_->StreamMicrobatches(&ctx, req);
      v1::WorkerMicrobatch m;
      while (reader->Read(&m)) {
        RankMicrobatch r = FromProto(m);
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return queue_.size() < capacity_ || closed_; });
        if (closed_) break;
        queue_.push_back(std::move(r));
        cv_.notify_all();
      }
      s = rpc::FromGrpcStatus(reader->Finish());
      std::lock_guard<std::mutex> lock(mu_);
      ctx_ = nullptr;
      first = req.end_step();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!s.ok()) status_ = Status(s.code(), "data stream: " + s.message());
    done_ = true;
    cv_.notify_all();
  }

  std::unique_ptr<v1::DataService::Stub> stub_;
  grpc::ClientContext* ctx_ = nullptr;  // the window's stream, under mu_
  size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RankMicrobatch> queue_;
  bool done_ = false, closed_ = false;
  Status status_;
  std::thread thread_;
};

// Fault injection for the reliability tests (tests/fault_injection_test.py):
// with BRAID_FAULT_CRASH_IN_CHECKPOINT=<step>:<marker file>, the first
// process to write checkpoint step-<step> (the one that creates the marker)
// leaves half of its params file behind and dies by SIGKILL, as a crash in
// the middle of the write would.
void MaybeCrashInCheckpoint(int64_t checkpoint_step, const std::string& tmp_dir, const std::string& module) {
  const char* spec = std::getenv("BRAID_FAULT_CRASH_IN_CHECKPOINT");
  if (!spec) return;
  const std::string s = spec;
  const size_t colon = s.find(':');
  if (colon == std::string::npos || std::to_string(checkpoint_step) != s.substr(0, colon)) return;
  const int fd = ::open(s.substr(colon + 1).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) return;  // another process (or an earlier run of this one) took it
  ::close(fd);
  const std::string params = tmp_dir + "/" + module + ".safetensors";
  struct stat st {};
  if (::stat(params.c_str(), &st) == 0) (void)!::truncate(params.c_str(), st.st_size / 2);
  LOG_WARN("fault injection: dying in the middle of checkpoint step-%lld", (long long)checkpoint_step);
  ::raise(SIGKILL);
}

// What the worker is doing, for its WorkerStatus service.
struct WorkerState {
  std::mutex mu;
  std::string worker_id, job_id;
  int rank = 0;
  std::atomic<int64_t> step{0};
};

class WorkerStatusImpl final : public v1::WorkerStatus::Service {
 public:
  WorkerStatusImpl(Role role, std::string name, WorkerState* st) : role_(role), name_(std::move(name)), st_(st) {}
  grpc::Status GetWorkerStatus(grpc::ServerContext*, const v1::GetWorkerStatusRequest*,
                               v1::GetWorkerStatusReply* reply) override {
    std::lock_guard<std::mutex> lock(st_->mu);
    reply->set_role(ToProtoModule(role_));
    reply->set_worker_id(st_->worker_id);
    reply->set_name(name_);
    reply->set_pid(int(getpid()));
    reply->set_job_id(st_->job_id);
    reply->set_rank(st_->rank);
    reply->set_step(st_->step);
    return grpc::Status::OK;
  }

 private:
  Role role_;
  std::string name_;
  WorkerState* st_;
};

class Worker {
 public:
  Worker(Role role, WorkerFlags flags, rpc::ShutdownSignal* shutdown, WorkerState* state, WorkerMetrics* metrics)
      : role_(role), flags_(std::move(flags)), shutdown_(shutdown), state_(state), metrics_(metrics) {}

  int Run() {
    registry_ = v1::WorkerRegistry::NewStub(rpc::MakeChannel(orchestrator_, flags_.process.security));
    if (int rc = Register(); rc != 0) return rc;
    std::thread heartbeat([this] { HeartbeatLoop(); });
    while (!shutdown_->requested() && !stop_) {
      v1::GetAssignmentRequest req;
      req.set_worker_id(worker_id_);
      req.set_wait_seconds(2);
      v1::GetAssignmentReply reply;
      auto ctx = rpc::MakeContext(2 + rpc::kLongPollSlackSeconds);
      grpc::Status s = registry_->GetAssignment(ctx.get(), req, &reply);
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
        // The orchestrator does not know this worker (it restarted, or it
        // declared this worker dead): register again (docs/RELIABILITY.md).
        LOG_WARN("the orchestrator no longer knows worker %s (%s): registering again", worker_id_.c_str(),
                 s.error_message().c_str());
        if (int rc = Register(); rc != 0) {
          stop_ = true;
          heartbeat.join();
          return rc;
        }
        continue;
      }
      if (!s.ok()) {
        LOG_WARN("GetAssignment: %s", s.error_message().c_str());
        shutdown_->WaitFor(1.0);
        continue;
      }
      if (reply.command() == v1::COMMAND_SHUTDOWN) break;
      if (!reply.assigned()) continue;
      RunJob(reply.assignment());
    }
    stop_ = true;
    heartbeat.join();
    return 0;
  }

  void set_orchestrator(std::string a) { orchestrator_ = std::move(a); }

 private:
  int Register() {
    v1::RegisterWorkerRequest req;
    req.set_role(ToProtoModule(role_));
    req.set_host(flags_.host);
    req.set_pid(int(getpid()));
    req.set_protocol_version(v1::PROTOCOL_VERSION_CURRENT);
    req.mutable_capabilities()->set_device(flags_.device.device);
    req.mutable_capabilities()->set_device_index(flags_.device.device_index);
    req.mutable_capabilities()->set_threads(flags_.threads);
    req.set_name(flags_.name);
    for (int attempt = 0;; ++attempt) {
      v1::RegisterWorkerReply reply;
      auto ctx = rpc::MakeContext();
      grpc::Status s = registry_->RegisterWorker(ctx.get(), req, &reply);
      if (s.ok()) {
        {
          std::lock_guard<std::mutex> lock(mu_);  // the heartbeat thread reads it
          worker_id_ = reply.worker_id();
        }
        {
          std::lock_guard<std::mutex> lock(state_->mu);
          state_->worker_id = worker_id_;
        }
        heartbeat_interval_ = reply.heartbeat_interval_seconds() > 0 ? reply.heartbeat_interval_seconds() : 1.0;
        LOG_INFO("%s worker registered as %s with %s", RoleName(role_), worker_id_.c_str(), orchestrator_.c_str());
        return 0;
      }
      if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) {  // docs/RELIABILITY.md, "Security"
        std::fprintf(stderr,
                     "braid-%s-worker: the orchestrator at %s refused registration: UNAUTHENTICATED: %s (this "
                     "worker's token, from --token-file or BRAID_TOKEN, is missing or does not match the "
                     "orchestrator's)\n",
                     RoleName(role_), orchestrator_.c_str(), s.error_message().c_str());
        return 2;
      }
      if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
          s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
        std::fprintf(stderr, "braid-%s-worker: registration refused: %s\n", RoleName(role_),
                     s.error_message().c_str());
        return 2;
      }
      if (shutdown_->requested()) return 0;
      if (attempt % 10 == 0) LOG_WARN("cannot reach the orchestrator at %s yet: %s", orchestrator_.c_str(),
                                      s.error_message().c_str());
      shutdown_->WaitFor(0.5);
    }
  }

  void HeartbeatLoop() {
    while (!stop_ && !shutdown_->requested()) {
      v1::HeartbeatRequest req;
      int64_t generation = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        req.set_worker_id(worker_id_);
        req.set_job_id(job_id_);
        generation = generation_;
      }
      req.set_step(step_);
      v1::HeartbeatReply reply;
      auto ctx = rpc::MakeContext(heartbeat_interval_ * 2 + 1);
      grpc::Status s = registry_->Heartbeat(ctx.get(), req, &reply);
      // Unknown to the orchestrator: whatever job this worker runs is over
      // there; the main loop registers again.
      if (s.error_code() == grpc::StatusCode::NOT_FOUND)
        CancelJob("the orchestrator no longer knows this worker", generation);
      if (s.ok()) {
        // Only for the assignment the heartbeat spoke for: a reply that
        // crosses the start of the next attempt of the same job must not cancel it.
        if (reply.command() == v1::COMMAND_CANCEL_JOB) CancelJob(reply.reason(), generation);
        if (reply.command() == v1::COMMAND_SHUTDOWN) {
          stop_ = true;
          CancelJob("shutdown");
          shutdown_->Trigger();
        }
      }
      shutdown_->WaitFor(heartbeat_interval_);
    }
    CancelJob("shutting down");
  }

  // generation: the assignment this is about (-1 = whatever runs now).
  void CancelJob(const std::string& why, int64_t generation = -1) {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation >= 0 && generation != generation_) return;
    if (!job_id_.empty() && !cancelled_) LOG_WARN("cancelling job %s: %s", job_id_.c_str(), why.c_str());
    cancelled_ = true;
    if (transport_) transport_->Cancel();
    AbortDeviceComms();
  }

  // The running rank's device communication (DP sum, boundaries, TP sums):
  // aborted, so its peers fail instead of waiting on their devices for this
  // rank. Caller holds mu_.
  void AbortDeviceComms() {
    if (grad_allreduce_) grad_allreduce_->Abort();
    if (device_boundary_) device_boundary_->Abort();
    if (tp_comm_) tp_comm_->Abort();
  }

  void Report(const v1::Assignment& a, const Status& s) {
    v1::ReportFailureRequest req;
    req.set_worker_id(worker_id_);
    req.set_job_id(a.job_id());
    req.set_message(s.message());
    req.set_attempt(a.attempt());
    v1::ReportFailureReply reply;
    auto ctx = rpc::MakeContext();
    registry_->ReportFailure(ctx.get(), req, &reply);
  }

  void RunJob(const v1::Assignment& a) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_id_ = a.job_id();
      cancelled_ = false;
      ++generation_;
    }
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->job_id = a.job_id();
      state_->rank = a.rank();
    }
    LOG_INFO("assigned job %s (attempt %d) as %s rank %d from step %lld", a.job_id().c_str(), a.attempt(),
             RoleName(role_), a.rank(), (long long)a.start_step());
    Status s = RunJobSteps(a);
    if (!s.ok() && !cancelled_) {
      LOG_ERROR("job %s failed: %s", a.job_id().c_str(), s.ToString().c_str());
      Report(a, s);
    }
    std::lock_guard<std::mutex> lock(mu_);
    transport_ = nullptr;
    job_id_.clear();
    std::lock_guard<std::mutex> slock(state_->mu);
    state_->job_id.clear();
  }

  Status RunJobSteps(const v1::Assignment& a) {
    ASSIGN_OR_RETURN(JobConfig cfg, ParseJobConfig(a.job_yaml(), "assignment of job " + a.job_id()));
    const ModuleParallel* par[kNumRoles] = {&cfg.parallel.encoder, &cfg.parallel.llm, &cfg.parallel.generator};
    int world[kNumRoles];
    for (int r = 0; r < kNumRoles; ++r) world[r] = par[r]->dp * par[r]->tp * par[r]->pp;
    const parallel::Layout layout{par[int(role_)]->dp, par[int(role_)]->tp, par[int(role_)]->pp};
    if (a.rank() < 0 || a.rank() >= layout.world())
      return Status::InvalidArgument("assignment: rank " + std::to_string(a.rank()) + " is outside the " +
                                     RoleName(role_) + " layout's " + std::to_string(layout.world()) + " ranks");
    // What ModuleRunner assumes (the orchestrator refuses other specs at
    // submit; an assignment from elsewhere must not crash the worker).
    if (role_ != Role::kLlm && layout.pp != 1)
      return Status::InvalidArgument(std::string("assignment: parallel.") + RoleName(role_) + ".pp is " +
                                     std::to_string(layout.pp) + "; only the llm is pipelined");
    if (role_ == Role::kGenerator && layout.tp != 1)
      return Status::InvalidArgument("assignment: parallel.generator.tp is " + std::to_string(layout.tp) +
                                     "; the generator runs tp 1");
    if (role_ == Role::kLlm)
      RETURN_IF_ERROR(parallel::SplitLayers(cfg.model.llm.layers, layout.pp, cfg.parallel.llm.layers,
                                            "assignment: parallel.llm.layers")
                          .status());
    const parallel::Coord me = parallel::CoordOf(layout, a.rank());
    GrpcKvStore base_kv(orchestrator_);
    comm::PrefixKvStore kv(&base_kv, a.rendezvous_prefix());
    ASSIGN_OR_RETURN(auto transport, UcxTransport::Create(&kv, role_, a.rank(), flags_.comm_timeout));
    {
      std::lock_guard<std::mutex> lock(mu_);
      transport_ = transport.get();
      if (cancelled_) transport_->Cancel();
    }
    // Boundary peers: the encoder talks to the LLM, the LLM to both, the generator to the LLM.
    if (role_ != Role::kLlm) RETURN_IF_ERROR(transport->ConnectTo(&kv, Role::kLlm, world[int(Role::kLlm)]));
    if (role_ == Role::kLlm) {
      RETURN_IF_ERROR(transport->ConnectTo(&kv, Role::kEncoder, world[int(Role::kEncoder)]));
      RETURN_IF_ERROR(transport->ConnectTo(&kv, Role::kGenerator, world[int(Role::kGenerator)]));
    }
    // The rank's DP group (same slice, other replicas) and TP group (its
    // replica's other slices), each its own Gloo context (docs/PARALLELISM.md).
    const std::string tag_dp = "dp-t" + std::to_string(me.tp) + "-p" + std::to_string(me.pp);
    const std::string tag_tp = "tp-d" + std::to_string(me.dp) + "-p" + std::to_string(me.pp);
    ASSIGN_OR_RETURN(auto group, GlooDpGroup::Create(&kv, role_, tag_dp, me.dp, layout.dp, flags_.host,
                                                     flags_.comm_timeout));
    std::unique_ptr<GlooDpGroup> tp_group, mp_group;
    if (layout.tp > 1) {
      ASSIGN_OR_RETURN(tp_group, GlooDpGroup::Create(&kv, role_, tag_tp, me.tp, layout.tp, flags_.host,
                                                     flags_.comm_timeout));
    }
    // With pipeline stages, the whole replica's group (gradient norm,
    // checkpoints); without, that is the TP group.
    if (layout.pp > 1) {
      ASSIGN_OR_RETURN(mp_group, GlooDpGroup::Create(&kv, role_, "mp-d" + std::to_string(me.dp),
                                                     me.pp * layout.tp + me.tp, layout.tp * layout.pp, flags_.host,
                                                     flags_.comm_timeout));
      // Pipeline neighbours of the same replica and TP index.
      std::vector<int> neighbours;
      if (me.pp > 0) neighbours.push_back(parallel::RankOf(layout, {me.dp, me.tp, me.pp - 1}));
      if (me.pp + 1 < layout.pp) neighbours.push_back(parallel::RankOf(layout, {me.dp, me.tp, me.pp + 1}));
      RETURN_IF_ERROR(transport->ConnectToRanks(&kv, role_, neighbours));
    }
    DpGroup* model_parallel = mp_group ? mp_group.get() : tp_group.get();
    ModuleRunner runner(role_, a.rank(), cfg, transport.get(), group.get(), tp_group.get(), model_parallel);
    ModuleState shard{RoleName(role_), &runner.params(), &runner.optimizer()};
    shard.subset = layout.pp > 1;  // a pipeline stage loads only its layers
    if (!a.resume_checkpoint().empty()) {
      // Every rank loads its module's tensors (DP replicates them; a TP rank
      // takes its slices), verifying every file's crc32 and size first
      // (docs/RELIABILITY.md).
      StatusOr<nlohmann::json> extra =
          LoadCheckpoint(a.resume_checkpoint(), {shard});
      if (!extra.ok()) return Status(extra.status().code(), "cannot resume: " + extra.status().message());
      const int64_t next = extra->value("next_step", int64_t{-1});
      if (next != a.start_step())
        return Status::FailedPrecondition("cannot resume: " + a.resume_checkpoint() + " continues at step " +
                                          std::to_string(next) + ", the assignment starts at " +
                                          std::to_string(a.start_step()));
      LOG_INFO("job %s: %s rank %d loaded %s", a.job_id().c_str(), RoleName(role_), a.rank(),
               a.resume_checkpoint().c_str());
    }
    // A device rank (DP layouts only: UseDevice refuses tp/pp) keeps its
    // device current on this thread for the whole job; checkpoints and
    // reports go through host copies.
    std::unique_ptr<RankDevice::Scope> device_scope;
    {
      ASSIGN_OR_RETURN(std::unique_ptr<RankDevice> device,
                       OpenRankDevice(cfg.device, cfg.precision, flags_.device, role_, a.rank()));
      if (device) {
        RETURN_IF_ERROR(runner.UseDevice(std::move(device)));
        device_scope = runner.EnterDevice();
        LOG_INFO("job %s: %s rank %d runs on cuda device %d", a.job_id().c_str(), RoleName(role_), a.rank(),
                 flags_.device.device_index);
#if defined(BRAID_HAVE_CUDA)
        // The DP gradient sum: NCCL on the devices, or the host-staged Gloo
        // fallback UseDevice set up (the group's ranks choose alike).
        if (layout.dp > 1) {
          ASSIGN_OR_RETURN(const DpAllReduceMode mode, DpAllReduceModeFromEnv());
          ASSIGN_OR_RETURN(std::unique_ptr<GradAllReduce> nccl,
                           SetUpNcclGradAllReduce(kv, *runner.device(),
                                                  {RoleName(role_), tag_dp, me.dp, layout.dp, mode,
                                                   flags_.comm_timeout}));
          if (nccl) runner.UseGradAllReduce(std::move(nccl));
        }
        // The TP group's sums inside the module math: NCCL on the devices,
        // or host copies over the Gloo TP group (the group chooses alike).
        if (layout.tp > 1) {
          ASSIGN_OR_RETURN(const DpAllReduceMode mode, DpAllReduceModeFromEnv());
          ASSIGN_OR_RETURN(std::unique_ptr<parallel::TpComm> tp_nccl,
                           SetUpNcclTpComm(kv, *runner.device(),
                                           {RoleName(role_), tag_tp, me.tp, layout.tp, mode, flags_.comm_timeout}));
          if (tp_nccl) runner.UseTpComm(std::move(tp_nccl));
        }
        // The boundary tensors: NCCL send/recv between the devices when
        // every rank of the job has its own, else host copies over UCX
        // (every rank of the job calls this and they choose alike).
        {
          ASSIGN_OR_RETURN(const DpAllReduceMode p2p, BoundaryP2pModeFromEnv());
          ASSIGN_OR_RETURN(const DpAllReduceMode collectives, DpAllReduceModeFromEnv());
          NcclBoundaryWorld bw;
          for (int r = 0; r < kNumRoles; ++r) bw.worlds[r] = world[r];
          bw.role = role_;
          bw.rank = a.rank();
          // Collectives forced onto host copies (BRAID_DP_ALLREDUCE=gloo)
          // wait on the host mid-step; the boundaries follow them unless
          // asked for nccl explicitly (docs/NCCL.md, "Order").
          bw.mode = p2p == DpAllReduceMode::kAuto && collectives == DpAllReduceMode::kGloo ? DpAllReduceMode::kGloo
                                                                                         : p2p;
          bw.timeout_seconds = flags_.comm_timeout;
          ASSIGN_OR_RETURN(std::unique_ptr<DeviceBoundary> boundary,
                           SetUpNcclDeviceBoundary(kv, *runner.device(), bw));
          if (boundary) runner.UseDeviceBoundary(std::move(boundary));
        }
#endif
      }
    }
    // Cancel (and a failing rank) aborts the device communication, so the
    // other ranks fail instead of waiting on their devices for this one.
    bool finished = false;
    struct AbortUnlessFinished {
      Worker* w;
      const bool& finished;
      ~AbortUnlessFinished() {
        std::lock_guard<std::mutex> lock(w->mu_);
        if (!finished) w->AbortDeviceComms();
        w->grad_allreduce_ = nullptr;
        w->device_boundary_ = nullptr;
        w->tp_comm_ = nullptr;
      }
    } abort_unless_finished{this, finished};
    {
      std::lock_guard<std::mutex> lock(mu_);
      grad_allreduce_ = runner.grad_allreduce();
      device_boundary_ = runner.device_boundary();
      tp_comm_ = runner.tp_comm();
      if (cancelled_) AbortDeviceComms();
    }
    // Boundary transfers move on between ops while this rank computes.
    SetOpBoundaryHook([](void* t) { static_cast<UcxTransport*>(t)->Poll(); }, transport.get());
    struct ClearHook {
      ~ClearHook() { SetOpBoundaryHook(nullptr, nullptr); }
    } clear_hook;
    v1::StreamMicrobatchesRequest sreq;
    sreq.set_job_id(a.job_id());
    sreq.set_role(ToProtoModule(role_));
    sreq.set_rank(me.dp);  // every TP rank of a replica reads the replica's share
    sreq.set_start_step(a.start_step());
    sreq.set_end_step(cfg.train.steps);
    MicrobatchStream stream(rpc::MakeChannel(a.reorderer_address(), flags_.process.security), sreq,
                            size_t(2 * cfg.train.microbatches));
    const std::string ckpt_dir = a.run_dir() + "/checkpoints";
    for (int64_t step = a.start_step(); step < cfg.train.steps; ++step) {
      step_ = step;
      state_->step = step;
      std::vector<RankMicrobatch> mbs;
      for (int m = 0; m < cfg.train.microbatches; ++m) {
        ASSIGN_OR_RETURN(RankMicrobatch mb, stream.Next(flags_.comm_timeout, cancelled_));
        if (mb.step != step || mb.microbatch != m)
          return Status::Internal("data stream out of order: got step " + std::to_string(mb.step) + " mb " +
                                  std::to_string(mb.microbatch));
        mbs.push_back(std::move(mb));
      }
      ASSIGN_OR_RETURN(StepResult r, runner.RunStep(step, mbs));
      metrics_->RecordStep(a.job_id(), a.rank(), r);
      bool wrote = false;
      const bool last = step + 1 == cfg.train.steps;
      if (me.dp == 0 && ((step + 1) % cfg.checkpoint.every == 0 || last)) {
        // Replica 0 writes; with TP or PP its ranks first assemble the whole
        // module (a collective of the replica's group), and its rank 0 writes it.
        const std::string tmp = ckpt_dir + "/step-" + std::to_string(step + 1) + ".tmp";
        if (model_parallel) {
          ASSIGN_OR_RETURN(std::unique_ptr<WholeModule> whole,
                           GatherWholeModule(runner.params(), runner.optimizer(), runner.WholeLayout(), me.tp == 0,
                                             model_parallel));
          if (a.rank() == 0)
            RETURN_IF_ERROR(WriteModuleShard(tmp, {RoleName(role_), &whole->params, whole->optim.get()}));
        } else {
          RETURN_IF_ERROR(WriteModuleShard(tmp, shard));
        }
        wrote = a.rank() == 0;
        if (wrote) MaybeCrashInCheckpoint(step + 1, tmp, RoleName(role_));
      }
      v1::ReportStepRequest rep;
      rep.set_worker_id(worker_id_);
      rep.set_job_id(a.job_id());
      rep.set_step(step);
      rep.set_role(ToProtoModule(role_));
      rep.set_rank(a.rank());
      rep.set_text_loss_sum(r.text_loss_sum);
      rep.set_gen_loss_sum(r.gen_loss_sum);
      rep.set_global_text_targets(mbs[0].global_text_targets);
      rep.set_global_gen_targets(mbs[0].global_gen_targets);
      rep.set_tokens(r.tokens);
      rep.set_images(r.images);
      for (int64_t id : mbs[0].step_sample_ids) rep.add_sample_ids(id);
      rep.set_step_seconds(r.seconds);
      rep.set_grad_norm(r.grad_norm);
      rep.set_lr(r.lr);
      rep.set_wrote_checkpoint(wrote);
      rep.set_step_start_unix(r.start_unix);
      rep.set_transfer_seconds_min(r.transfer_seconds_min);
      rep.set_transfer_seconds_max(r.transfer_seconds_max);
      rep.set_messages(r.messages);
      rep.set_plan_solve_ms(mbs[0].plan_solve_ms);
      rep.set_attempt(a.attempt());
      rep.mutable_plan_imbalance()->Add(mbs[0].plan_imbalance.begin(), mbs[0].plan_imbalance.end());
      for (const SpanRecord& sp : r.spans) {
        v1::Span* p = rep.add_spans();
        p->set_kind(v1::Span::Kind(int(sp.kind)));
        p->set_microbatch(sp.microbatch);
        p->set_start_seconds(sp.start_seconds);
        p->set_seconds(sp.seconds);
      }
      v1::ReportStepReply reply;
      auto ctx = rpc::MakeContext();
      grpc::Status gs = registry_->ReportStep(ctx.get(), rep, &reply);
      if (!gs.ok()) return Status(rpc::FromGrpcStatus(gs).code(), "ReportStep: " + gs.error_message());
      if (reply.command() == v1::COMMAND_CANCEL_JOB) return Status::Unavailable("job cancelled");
      if (cancelled_) return Status::Unavailable("job cancelled");
    }
    v1::ReportDoneRequest done;
    done.set_worker_id(worker_id_);
    done.set_job_id(a.job_id());
    done.set_attempt(a.attempt());
    v1::ReportDoneReply dreply;
    auto ctx = rpc::MakeContext();
    registry_->ReportDone(ctx.get(), done, &dreply);
    LOG_INFO("job %s: %s rank %d done", a.job_id().c_str(), RoleName(role_), a.rank());
    finished = true;
    return Status::Ok();
  }

  Role role_;
  WorkerFlags flags_;
  rpc::ShutdownSignal* shutdown_;
  WorkerState* state_;
  WorkerMetrics* metrics_;
  std::string orchestrator_;
  std::unique_ptr<v1::WorkerRegistry::Stub> registry_;
  std::string worker_id_;
  double heartbeat_interval_ = 1.0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> step_{0};
  std::mutex mu_;
  std::string job_id_;
  int64_t generation_ = 0;  // assignments started; guarded by mu_
  UcxTransport* transport_ = nullptr;
  GradAllReduce* grad_allreduce_ = nullptr;  // the running rank's DP all-reduce (device ranks); guarded by mu_
  DeviceBoundary* device_boundary_ = nullptr;  // its device-to-device boundary, if any; guarded by mu_
  parallel::TpComm* tp_comm_ = nullptr;         // its TP group's sums (null without TP); guarded by mu_
};

}  // namespace

int RunWorkerMain(Role role, int argc, char** argv) {
  EnsureOpenBlasCore(argv);
  const std::string title = std::string("braid-") + RoleName(role) + "-worker";
  CLI::App app{title + ": one rank of the " + RoleName(role) + " pool (docs/PROTOCOL.md)"};
  WorkerFlags f;
  f.process.listen = "127.0.0.1:0";
  AddProcessFlags(app, &f.process);
  AddDeviceFlags(app, &f.device);
  app.add_option("--orchestrator", f.orchestrator, "orchestrator HOST:PORT")->envname("BRAID_ORCHESTRATOR");
  app.add_option("--orchestrator-address-file", f.orchestrator_address_file,
                 "read the orchestrator's HOST:PORT from this file (waits for it)");
  app.add_option("--host", f.host, "address its UCX and Gloo endpoints use")
      ->envname("BRAID_HOST")
      ->capture_default_str();
  app.add_option("--threads", f.threads, "compute threads")
      ->envname("BRAID_THREADS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--adaptive-threads", f.adaptive_threads,
               "compute with up to --threads threads, fewer while other braid processes on this host "
               "compute (docs/PERFORMANCE.md, \"Sharing cores\")");
  app.add_option("--name", f.name, "a name for logs and `braid status`")->envname("BRAID_NAME");
  app.add_option("--comm-timeout", f.comm_timeout, "seconds any wait on a peer may take")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!ApplyLogLevel(f.process)) return 2;
  if (f.orchestrator.empty() && f.orchestrator_address_file.empty()) {
    std::fprintf(stderr, "%s: --orchestrator or --orchestrator-address-file is required\n", title.c_str());
    return 2;
  }
  // Before anything registers: a worker without its device never reaches
  // the orchestrator's table (docs/GPU.md step 7).
  if (Status s = CheckDeviceFlags(f.device); !s.ok()) {
    std::fprintf(stderr, "%s: --device %s --device-index %d: %s\n", title.c_str(), f.device.device.c_str(),
                 f.device.device_index, s.message().c_str());
    return 2;
  }
  SetComputeThreads(f.threads);
  if (Status s = JoinHostCores(f.threads, f.adaptive_threads); !s.ok())
    LOG_WARN("%s: sharing cores with other processes is off: %s", title.c_str(), s.ToString().c_str());
  rpc::ShutdownSignal shutdown;
  if (Status s = shutdown.Install(); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", title.c_str(), s.ToString().c_str());
    return 1;
  }
  std::string orchestrator = f.orchestrator;
  if (orchestrator.empty()) {
    auto a = rpc::ReadAddressFile(f.orchestrator_address_file, 30);
    if (!a.ok()) {
      std::fprintf(stderr, "%s: %s\n", title.c_str(), a.status().message().c_str());
      return 1;
    }
    orchestrator = *a;
  }
  auto metrics = MetricsServer::Start(f.process.metrics_listen, RoleName(role));
  if (!metrics.ok()) {
    std::fprintf(stderr, "%s: --metrics-listen: %s\n", title.c_str(), metrics.status().message().c_str());
    return 2;
  }
  if (!WriteMetricsAddress(f.process, (*metrics)->bound_port())) return 1;
  // The worker's own listen address serves WorkerStatus.
  WorkerState state;
  WorkerStatusImpl status_service(role, f.name, &state);
  int port = 0;
  rpc::InterceptorFactories interceptors;
  interceptors.push_back(MakeRpcMetrics((*metrics)->registry()));
  auto server = rpc::StartServer(f.process.listen, {&status_service}, &port, std::move(interceptors),
                                 ServerOptionsFor(f.process, (*metrics)->registry(),
                                                  rpc::kWorkerStatusMaxMessageBytes));
  if (!server.ok()) {
    std::fprintf(stderr, "%s: --listen %s: %s\n", title.c_str(), f.process.listen.c_str(),
                 server.status().message().c_str());
    return 2;
  }
  if (!f.process.address_file.empty())
    (void)rpc::WriteAddressFile(f.process.address_file, rpc::DialAddress(f.process.listen, port));
  WorkerMetrics worker_metrics((*metrics)->registry(), role);
  Worker w(role, f, &shutdown, &state, &worker_metrics);
  w.set_orchestrator(orchestrator);
  int rc = w.Run();
  (*server)->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  LOG_INFO("%s exiting", title.c_str());
  return rc;
}

}  // namespace braid::worker
