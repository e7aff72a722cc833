// The orchestrator's RPC handlers (JobService, WorkerRegistry, Rendezvous)
// fed arbitrary request messages: each input is a sequence of calls on a
// fresh Orchestrator (temporary runs_root, a DataPlanner that accepts every
// job, fake clocks), made through the real gRPC service implementations with
// a default ServerContext, so the proto -> core conversion (proto_convert.h)
// and the core's checks both see the bytes.
//
// Input: records of [method: 1 byte][length: 2 bytes LE][request bytes];
// method % kMethods picks the call (table below); request bytes that do not
// parse as that request message are skipped. kTick advances the monotonic
// clock by request[0] seconds and runs Orchestrator::Tick (dead workers, the
// scheduler). fuzz/make_seeds.py writes seeds in this format.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

#include <grpcpp/server_context.h>

#include "braid/v1/job.grpc.pb.h"
#include "braid/v1/rendezvous.grpc.pb.h"
#include "braid/v1/worker.grpc.pb.h"
#include "common/base/log.h"
#include "common/config/job_config.h"
#include "fuzz/fuzz_input.h"
#include "services/orchestrator/orchestrator.h"
#include "services/orchestrator/services.h"

namespace {

namespace fs = std::filesystem;
namespace pb = braid::v1;
using braid::orchestrator::Orchestrator;

enum Method : uint8_t {
  kSubmitJob,
  kGetJob,
  kListJobs,
  kCancelJob,
  kRegisterWorker,
  kHeartbeat,
  kGetAssignment,
  kReportStep,
  kReportFailure,
  kReportDone,
  kSetKey,
  kGetKey,
  kTick,
  kMethods
};
constexpr int kMaxCalls = 64;  // per input: bounds the time of one execution

class AcceptingPlanner final : public braid::orchestrator::DataPlanner {
 public:
  braid::Status OpenJob(const std::string&, const std::string&, const braid::orchestrator::Layout&) override {
    return braid::Status::Ok();
  }
  void CloseJob(const std::string&) override {}
  std::string address() const override { return "127.0.0.1:1"; }
};

// Reads the records of one input.
class Records {
 public:
  Records(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool Next(uint8_t* method, std::string* payload) {
    if (end_ - p_ < 3) return false;
    *method = p_[0] % kMethods;
    size_t len = size_t{p_[1]} | (size_t{p_[2]} << 8);
    p_ += 3;
    len = std::min(len, static_cast<size_t>(end_ - p_));
    payload->assign(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    return true;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// The fuzzer must not create directories outside its scratch dir: a spec
// whose checkpoint.dir is absolute or climbs out of the runs root is not
// submitted (the job table would create it).
bool StaysInRunsRoot(const std::string& yaml) {
  braid::StatusOr<braid::JobConfig> cfg = braid::ParseJobConfig(yaml, "<request>");
  if (!cfg.ok()) return true;  // refused by SubmitJob before any directory is made
  const fs::path dir = fs::path(cfg->checkpoint.dir).lexically_normal();
  return !dir.is_absolute() && (dir.empty() || *dir.begin() != "..");
}

// Only waits that would block are shortened: NaN, negative and infinite
// values go through to the handlers unchanged.
double NoBlocking(double wait_seconds) { return wait_seconds > 0 ? 0.0 : wait_seconds; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool init = [] {
    setenv("TZ", "UTC", 1);  // job ids embed the local time: same id everywhere
    tzset();
    // BRAID_FUZZ_VERBOSE=1 shows the orchestrator's log (checking seeds).
    braid::SetLogLevel(std::getenv("BRAID_FUZZ_VERBOSE") ? braid::LogLevel::kInfo : braid::LogLevel::kError);
    return true;
  }();
  (void)init;
  static grpc::ServerContext ctx;  // the handlers do not look at it (WatchJob is not fuzzed)

  const fs::path runs_root = fs::path(braid::fuzz::ScratchDir()) / "runs";
  double mono_now = 1000.0;
  braid::orchestrator::OrchestratorOptions options;
  options.runs_root = runs_root.string();
  AcceptingPlanner planner;
  auto orchestrator = std::make_unique<Orchestrator>(
      options, &planner, [&mono_now] { return mono_now; }, [] { return 1.7e9; });
  std::unique_ptr<grpc::Service> job_service = braid::orchestrator::MakeJobService(orchestrator.get(), 0.01);
  std::unique_ptr<grpc::Service> registry_service = braid::orchestrator::MakeWorkerRegistryService(orchestrator.get());
  std::unique_ptr<grpc::Service> rendezvous_service = braid::orchestrator::MakeRendezvousService(orchestrator.get());
  auto* jobs = static_cast<pb::JobService::Service*>(job_service.get());
  auto* registry = static_cast<pb::WorkerRegistry::Service*>(registry_service.get());
  auto* rendezvous = static_cast<pb::Rendezvous::Service*>(rendezvous_service.get());

  Records records(data, size);
  uint8_t method = 0;
  std::string payload;
  for (int call = 0; call < kMaxCalls && records.Next(&method, &payload); ++call) {
    switch (method) {
      case kSubmitJob: {
        pb::SubmitJobRequest req;
        pb::SubmitJobReply reply;
        if (!req.ParseFromString(payload) || !StaysInRunsRoot(req.job_yaml())) break;
        (void)jobs->SubmitJob(&ctx, &req, &reply);
        break;
      }
      case kGetJob: {
        pb::GetJobRequest req;
        pb::GetJobReply reply;
        if (req.ParseFromString(payload)) (void)jobs->GetJob(&ctx, &req, &reply);
        break;
      }
      case kListJobs: {
        pb::ListJobsRequest req;
        pb::ListJobsReply reply;
        if (req.ParseFromString(payload)) (void)jobs->ListJobs(&ctx, &req, &reply);
        break;
      }
      case kCancelJob: {
        pb::CancelJobRequest req;
        pb::CancelJobReply reply;
        if (req.ParseFromString(payload)) (void)jobs->CancelJob(&ctx, &req, &reply);
        break;
      }
      case kRegisterWorker: {
        pb::RegisterWorkerRequest req;
        pb::RegisterWorkerReply reply;
        if (req.ParseFromString(payload)) (void)registry->RegisterWorker(&ctx, &req, &reply);
        break;
      }
      case kHeartbeat: {
        pb::HeartbeatRequest req;
        pb::HeartbeatReply reply;
        if (req.ParseFromString(payload)) (void)registry->Heartbeat(&ctx, &req, &reply);
        break;
      }
      case kGetAssignment: {
        pb::GetAssignmentRequest req;
        pb::GetAssignmentReply reply;
        if (!req.ParseFromString(payload)) break;
        req.set_wait_seconds(NoBlocking(req.wait_seconds()));
        (void)registry->GetAssignment(&ctx, &req, &reply);
        break;
      }
      case kReportStep: {
        pb::ReportStepRequest req;
        pb::ReportStepReply reply;
        if (req.ParseFromString(payload)) (void)registry->ReportStep(&ctx, &req, &reply);
        break;
      }
      case kReportFailure: {
        pb::ReportFailureRequest req;
        pb::ReportFailureReply reply;
        if (req.ParseFromString(payload)) (void)registry->ReportFailure(&ctx, &req, &reply);
        break;
      }
      case kReportDone: {
        pb::ReportDoneRequest req;
        pb::ReportDoneReply reply;
        if (req.ParseFromString(payload)) (void)registry->ReportDone(&ctx, &req, &reply);
        break;
      }
      case kSetKey: {
        pb::SetKeyRequest req;
        pb::SetKeyReply reply;
        if (req.ParseFromString(payload)) (void)rendezvous->SetKey(&ctx, &req, &reply);
        break;
      }
      case kGetKey: {
        pb::GetKeyRequest req;
        pb::GetKeyReply reply;
        if (!req.ParseFromString(payload)) break;
        req.set_wait_seconds(NoBlocking(req.wait_seconds()));
        (void)rendezvous->GetKey(&ctx, &req, &reply);
        break;
      }
      case kTick:
        mono_now += payload.empty() ? 1.0 : static_cast<uint8_t>(payload[0]);
        orchestrator->Tick();
        break;
      default:
        break;
    }
  }
  orchestrator->Shutdown();
  rendezvous_service.reset();
  registry_service.reset();
  job_service.reset();
  orchestrator.reset();
  std::error_code ec;
  fs::remove_all(runs_root, ec);
  return 0;
}
