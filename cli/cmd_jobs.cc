// braid submit / status / list / cancel / watch / trace: JobService clients.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "cli/job_client.h"
#include "cli/trace_export.h"
#include "common/checkpoint/durable_file.h"
#include "common/rpc/client_context.h"
#include "common/rpc/status_convert.h"

namespace braid::cli {
namespace {

struct ClientArgs {
  std::string orchestrator;
  std::string state_dir = kDefaultStateDir;
  std::string job_file;
  std::string job_id;
  bool json = false;
  bool quiet = false;
  std::string steps = "0:", out;  // braid trace
};

void AddClientFlags(CLI::App* cmd, ClientArgs* a) {
  cmd->add_option("--orchestrator", a->orchestrator, "orchestrator HOST:PORT (default: $BRAID_ORCHESTRATOR, then `braid up`'s)");
  cmd->add_option("--state-dir", a->state_dir, "state directory of `braid up`")->capture_default_str();
}

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "braid %s: %s\n", what.c_str(), s.message().c_str());
  return ExitCodeFor(s);
}

// braid trace: the run directory (ID itself when it is one, else the job's,
// from the orchestrator), its timeline.jsonl as a Chrome trace.
int Trace(const ClientArgs& a) {
  int64_t first = 0, last = 0;
  if (Status s = ParseStepRange(a.steps, &first, &last); !s.ok()) return Fail("trace", s);
  std::string path = a.job_id + "/timeline.jsonl";
  StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) {  // not a run directory: a job id
    auto addr = ResolveOrchestrator(a.orchestrator, a.state_dir);
    if (!addr.ok()) return Fail("trace", addr.status());
    auto stub = MakeJobStub(*addr);
    auto ctx = rpc::MakeContext();
    v1::GetJobRequest req;
    req.set_job_id(a.job_id);
    v1::GetJobReply reply;
    grpc::Status s = stub->GetJob(ctx.get(), req, &reply);
    if (!s.ok()) return Fail("trace", rpc::FromGrpcStatus(s));
    path = reply.job().run_dir() + "/timeline.jsonl";
    text = ReadWholeFile(path);
    if (!text.ok())
      return Fail("trace", Status(text.status().code(), text.status().message() +
                                                            " (the run directory must be visible from this machine)"));
  }
  StatusOr<std::string> trace = TimelineToChromeTrace(*text, first, last);
  if (!trace.ok()) return Fail("trace", Status(trace.status().code(), path + ": " + trace.status().message()));
  std::ofstream out(a.out, std::ios::trunc);
  out << *trace << "\n";
  if (!out) return Fail("trace", Status::Unavailable("cannot write " + a.out));
  std::fprintf(stderr, "wrote %s (open in https://ui.perfetto.dev or chrome://tracing)\n", a.out.c_str());
  return kExitOk;
}

// `braid list` and `braid status` without an id: every job, newest first.
int PrintJobList(const std::string& what, const ClientArgs& a) {
  auto addr = ResolveOrchestrator(a.orchestrator, a.state_dir);
  if (!addr.ok()) return Fail(what, addr.status());
  auto stub = MakeJobStub(*addr);
  auto ctx = rpc::MakeContext();
  v1::ListJobsReply reply;
  grpc::Status s = stub->ListJobs(ctx.get(), v1::ListJobsRequest(), &reply);
  if (!s.ok()) return Fail(what, rpc::FromGrpcStatus(s));
  if (a.json) {
    std::printf("[");
    for (int i = 0; i < reply.jobs_size(); ++i) std::printf("%s%s", i ? "," : "", JobToJson(reply.jobs(i)).c_str());
    std::printf("]\n");
  } else {
    for (const auto& j : reply.jobs()) std::printf("%s\n", JobLine(j).c_str());
  }
  return kExitOk;
}

}  // namespace

int SubmitJobFile(const std::string& orchestrator, const std::string& job_file, std::string* job_id) {
  std::ifstream in(job_file);
  if (!in) {
    std::fprintf(stderr, "%s: cannot open\n", job_file.c_str());
    return kExitBadInput;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto stub = MakeJobStub(orchestrator);
  v1::SubmitJobRequest req;
  req.set_job_yaml(ss.str());
  req.set_source_name(job_file);
  v1::SubmitJobReply reply;
  auto ctx = rpc::MakeContext();
  grpc::Status s = stub->SubmitJob(ctx.get(), req, &reply);
  if (!s.ok()) {
    // INVALID_ARGUMENT carries the one-line "field.path: problem".
    std::fprintf(stderr, "%s\n", s.error_message().c_str());
    return s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? kExitBadInput : kExitRuntime;
  }
  *job_id = reply.job().id();
  std::fprintf(stderr, "submitted %s (run directory %s)\n", job_id->c_str(), reply.job().run_dir().c_str());
  return kExitOk;
}

void RegisterJobCommands(CLI::App& app, std::function<int()>* run) {
  {
    auto a = std::make_shared<ClientArgs>();
    CLI::App* cmd = app.add_subcommand("submit", "Submit a job to the orchestrator; prints the job id");
    cmd->add_option("job", a->job_file, "job spec (YAML)")->required();
    AddClientFlags(cmd, a.get());
    cmd->callback([run, a] {
      *run = [a] {
        auto addr = ResolveOrchestrator(a->orchestrator, a->state_dir);
        if (!addr.ok()) return Fail("submit", addr.status());
        std::string id;
        int rc = SubmitJobFile(*addr, a->job_file, &id);
        if (rc == kExitOk) std::printf("%s\n", id.c_str());
        return rc;
      };
    });
  }
  {
    auto a = std::make_shared<ClientArgs>();
    CLI::App* cmd = app.add_subcommand("status", "Show one job (or all jobs)");
    cmd->add_option("id", a->job_id, "job id (default: all jobs)");
    cmd->add_flag("--json", a->json, "print JSON (docs/CLI.md)");
    AddClientFlags(cmd, a.get());
    cmd->callback([run, a] {
      *run = [a] {
        if (a->job_id.empty()) return PrintJobList("status", *a);
        auto addr = ResolveOrchestrator(a->orchestrator, a->state_dir);
        if (!addr.ok()) return Fail("status", addr.status());
        auto stub = MakeJobStub(*addr);
        auto ctx = rpc::MakeContext();
        v1::GetJobRequest req;
        req.set_job_id(a->job_id);
        v1::GetJobReply reply;
        grpc::Status s = stub->GetJob(ctx.get(), req, &reply);
        if (!s.ok()) return Fail("status", rpc::FromGrpcStatus(s));
        if (a->json) {
          std::printf("%s\n", JobToJson(reply.job()).c_str());
        } else {
          const v1::Job& j = reply.job();
          std::printf("%s\n", JobLine(j).c_str());
          std::printf("  run directory %s\n", j.run_dir().c_str());
          if (j.restarts() > 0 || j.history_size() > 0)
            std::printf("  attempt %d, restarts %d of %d (reliability.max_restarts)\n", j.attempt(), j.restarts(),
                        j.max_restarts());
          for (const v1::JobHistoryEvent& e : j.history()) {
            const std::time_t t = std::time_t(e.unix());
            char when[32];
            std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
            std::printf("  %s  %s\n", when, e.text().c_str());
          }
          for (const auto& t : j.timeline())
            std::printf("  %-9s compute %.3f s  communication %.3f s  exposed %.3f s  bubble %.3f s (last step)\n",
                        v1::Module_Name(t.module()).c_str() + 7, t.compute_seconds(), t.communication_seconds(),
                        t.exposed_communication_seconds(), t.bubble_seconds());
        }
        return kExitOk;
      };
    });
  }
  {
    auto a = std::make_shared<ClientArgs>();
    CLI::App* cmd = app.add_subcommand("list", "List jobs, newest first");
    cmd->add_flag("--json", a->json, "print a JSON array (docs/CLI.md)");
    AddClientFlags(cmd, a.get());
    cmd->callback([run, a] {
      *run = [a] {
        return PrintJobList("list", *a);
      };
    });
  }
  {
    auto a = std::make_shared<ClientArgs>();
    CLI::App* cmd = app.add_subcommand("cancel", "Cancel a pending or running job");
    cmd->add_option("id", a->job_id, "job id")->required();
    AddClientFlags(cmd, a.get());
    cmd->callback([run, a] {
      *run = [a] {
        auto addr = ResolveOrchestrator(a->orchestrator, a->state_dir);
        if (!addr.ok()) return Fail("cancel", addr.status());
        auto stub = MakeJobStub(*addr);
        auto ctx = rpc::MakeContext();
        v1::CancelJobRequest req;
        req.set_job_id(a->job_id);
        v1::CancelJobReply reply;
        grpc::Status s = stub->CancelJob(ctx.get(), req, &reply);
        if (!s.ok()) return Fail("cancel", rpc::FromGrpcStatus(s));
        std::printf("%s\n", JobLine(reply.job()).c_str());
        return kExitOk;
      };
    });
  }
  {
    auto a = std::make_shared<ClientArgs>();
    CLI::App* cmd = app.add_subcommand("watch", "Follow a job with a progress bar until it ends; exit code = outcome");
    cmd->add_option("id", a->job_id, "job id")->required();
    AddClientFlags(cmd, a.get());
    cmd->callback([run, a] {
      *run = [a] {
        auto addr = ResolveOrchestrator(a->orchestrator, a->state_dir);
        if (!addr.ok()) return Fail("watch", addr.status());
        auto stub = MakeJobStub(*addr);
        auto job = WatchUntilDone(stub.get(), a->job_id, false);
        if (!job.ok()) return Fail("watch", job.status());
        std::printf("%s\n", JobLine(*job).c_str());
        return job->state() == v1::JOB_STATE_SUCCEEDED ? kExitOk : kExitRuntime;
      };
    });
  }
  {
    auto a = std::make_shared<ClientArgs>();
    CLI::App* cmd = app.add_subcommand(
        "trace", "Write a Chrome/Perfetto trace of a job's real spans (compute, send, receive waits, all-reduce, "
                 "optimizer), one track per rank, from its run directory's timeline.jsonl");
    cmd->add_option("id", a->job_id, "job id, or a run directory")->required();
    cmd->add_option("--steps", a->steps, "steps A:B (inclusive), A, or A: (to the end)")->capture_default_str();
    cmd->add_option("-o,--output", a->out, "trace JSON to write")->required();
    AddClientFlags(cmd, a.get());
    cmd->callback([run, a] { *run = [a] { return Trace(*a); }; });
  }
}

}  // namespace braid::cli
