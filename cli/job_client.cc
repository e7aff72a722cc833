#include "cli/job_client.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "cli/local_launcher.h"
#include "common/base/clock.h"
#include "common/rpc/security.h"
#include "common/rpc/status_convert.h"

namespace braid::cli {

StatusOr<std::string> ResolveOrchestrator(const std::string& flag, const std::string& state_dir) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("BRAID_ORCHESTRATOR"); env && *env) return std::string(env);
  auto state = ReadClusterState(state_dir);
  if (!state.ok())
    return Status::NotFound("no orchestrator: pass --orchestrator HOST:PORT, set BRAID_ORCHESTRATOR, or run `braid up`");
  RETURN_IF_ERROR(UseClusterSecurity(*state));
  return state->orchestrator;
}

Status UseClusterSecurity(const LocalCluster& c) {
  ASSIGN_OR_RETURN(rpc::RpcSecurity s, ClusterClientSecurity(c, rpc::ProcessSecurity()));
  rpc::SetProcessSecurity(s);
  return Status::Ok();
}

std::unique_ptr<v1::JobService::Stub> MakeJobStub(const std::string& address) {
  return v1::JobService::NewStub(rpc::MakeChannel(address, rpc::ProcessSecurity()));
}

namespace {
SecurityFlags& MutableSecurityFlags() {
  static SecurityFlags f;
  return f;
}
}  // namespace

const SecurityFlags& ClientSecurityFlags() { return MutableSecurityFlags(); }

void AddSecurityFlags(CLI::App& app) {
  SecurityFlags* f = &MutableSecurityFlags();
  app.add_option("--token-file", f->token_file, "file holding the bearer token sent on every call (else $BRAID_TOKEN)")
      ->envname("BRAID_TOKEN_FILE");
  app.add_option("--tls-ca", f->tls_ca, "PEM CA certificate: dial the orchestrator over TLS verified against it")
      ->envname("BRAID_TLS_CA");
  app.add_option("--tls-cert", f->tls_cert, "PEM client certificate (optional, with --tls-key)")
      ->envname("BRAID_TLS_CERT");
  app.add_option("--tls-key", f->tls_key, "PEM private key of --tls-cert")->envname("BRAID_TLS_KEY");
  app.parse_complete_callback([f] {
    rpc::RpcSecurity s;
    s.tls_ca = f->tls_ca;
    s.tls_cert = f->tls_cert;
    s.tls_key = f->tls_key;
    if (Status st = rpc::LoadSecurity(f->token_file, &s); !st.ok()) throw CLI::ValidationError(st.message());
    rpc::SetProcessSecurity(s);
  });
}

std::string StateName(v1::JobState s) {
  std::string n = v1::JobState_Name(s);
  const std::string prefix = "JOB_STATE_";
  return n.rfind(prefix, 0) == 0 ? n.substr(prefix.size()) : n;
}

bool IsFinal(v1::JobState s) {
  return s == v1::JOB_STATE_SUCCEEDED || s == v1::JOB_STATE_FAILED || s == v1::JOB_STATE_CANCELLED;
}

std::string JobToJson(const v1::Job& job) {
  std::string out;
  google::protobuf::util::JsonPrintOptions opt;
  opt.preserve_proto_field_names = true;
  opt.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(job, &out, opt);
  return out;
}


std::string JobLine(const v1::Job& job) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-32s %-9s step %lld/%lld", job.id().c_str(), StateName(job.state()).c_str(),
                (long long)job.step(), (long long)job.total_steps());
  std::string line = buf;
  if (job.step() > 0) {
    std::snprintf(buf, sizeof buf, "  loss %.4f  %.0f tok/s", job.last().loss(), job.last().tokens_per_second());
    line += buf;
  }
  if (!job.reason().empty()) line += "  (" + job.reason() + ")";
  return line;
}

StatusOr<v1::Job> WatchUntilDone(v1::JobService::Stub* stub, const std::string& job_id, bool quiet) {
  const bool tty = isatty(2);
  for (int attempt = 0;; ++attempt) {
    grpc::ClientContext ctx;
    v1::WatchJobRequest req;
    req.set_job_id(job_id);
    auto reader = stub->WatchJob(&ctx, req);
    v1::JobEvent ev;
    v1::Job last;
    int64_t printed_step = -1;
    std::string printed_reason;
    while (reader->Read(&ev)) {
      last = ev.job();
      if (quiet) continue;
      if ((last.state() == v1::JOB_STATE_PENDING || last.state() == v1::JOB_STATE_RECOVERING) &&
          last.reason() != printed_reason) {
        std::fprintf(stderr, "%s%s: %s (%s)\n", tty && printed_step >= 0 ? "\n" : "", job_id.c_str(),
                     StateName(last.state()).c_str(), last.reason().c_str());
        printed_reason = last.reason();
      }
      if (last.step() != printed_step && last.total_steps() > 0 && last.step() > 0) {
        const int width = 30;
        const int filled = int(double(width) * double(last.step()) / double(last.total_steps()));
        std::string bar(size_t(filled), '=');
        if (filled < width) bar += '>' + std::string(size_t(width - filled - 1), ' ');
        char line[256];
        std::snprintf(line, sizeof line, "step %lld/%lld [%s] loss %.4f | %.0f tok/s | ETA %s",
                      (long long)last.step(), (long long)last.total_steps(), bar.c_str(), last.last().loss(),
                      last.last().tokens_per_second(), FormatDuration(last.eta_seconds()).c_str());
        if (tty) std::fprintf(stderr, "\r%s\033[K", line);
        else if (last.step() % 50 == 0 || last.step() == last.total_steps()) std::fprintf(stderr, "%s\n", line);
        printed_step = last.step();
      }
    }
    grpc::Status s = reader->Finish();
    if (tty && !quiet && printed_step >= 0) std::fprintf(stderr, "\n");
    if (IsFinal(last.state())) return last;
    if (!s.ok() && attempt >= 3) return rpc::FromGrpcStatus(s);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) return rpc::FromGrpcStatus(s);
    usleep(500000);
  }
}

}  // namespace braid::cli
