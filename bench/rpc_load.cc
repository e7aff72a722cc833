// braid_rpc_load: RPC load on a running orchestrator (issue 7; run by
// bench/rpc_load.sh, results in docs/PERFORMANCE.md, "RPC load").
//
//   braid_rpc_load --orchestrator HOST:PORT --clients 64 --rpcs 200 --job ID [--token-file F]
//
// Each client thread has its own channel and issues --rpcs calls, a
// round-robin mix of GetJob(ID), ListJobs and SubmitJob with a spec the
// validator rejects. Expected: GetJob and ListJobs OK, the invalid submit
// INVALID_ARGUMENT; anything else is an unexpected error. Prints per method
// and overall the count, unexpected errors, p50 / p99 / max latency (ms) and
// the throughput; exits 1 when any call failed unexpectedly.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "braid/v1/job.grpc.pb.h"
#include "common/rpc/security.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMethods = 3;
const char* const kMethodNames[kMethods] = {"GetJob", "ListJobs", "SubmitJob(invalid)"};
// Rejected by the validator: heads does not divide the LLM width, and most
// required sections are missing.
constexpr const char* kInvalidSpec = "name: bad\nmodel: {llm: {heads: 3}}\n";
constexpr double kDeadlineSeconds = 30.0;
constexpr int kMaxPrintedErrors = 5;

struct Options {
  std::string orchestrator, job, token_file;
  int clients = 64, rpcs = 200;
};

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr,
               "braid_rpc_load: %s\nusage: braid_rpc_load --orchestrator HOST:PORT --clients N --rpcs N --job ID "
               "[--token-file F]\n",
               msg);
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") Usage("RPC load on a running orchestrator");
    if (i + 1 >= argc) Usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--orchestrator") {
      o.orchestrator = v;
    } else if (a == "--job") {
      o.job = v;
    } else if (a == "--token-file") {
      o.token_file = v;
    } else if (a == "--clients" || a == "--rpcs") {
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || n <= 0 || n > 100000) Usage(("bad " + a + ": " + v).c_str());
      (a == "--clients" ? o.clients : o.rpcs) = static_cast<int>(n);
    } else {
      Usage(("unknown flag " + a).c_str());
    }
  }
  if (o.orchestrator.empty()) Usage("--orchestrator is required");
  if (o.job.empty()) Usage("--job is required");
  return o;
}

// Latencies (ms) per method, and unexpected errors, of one client.
struct ClientResult {
  std::vector<double> ms[kMethods];
  long errors[kMethods] = {};
  std::vector<std::string> messages;  // the first few unexpected errors
};

void RunClient(const Options& o, const braid::rpc::RpcSecurity& sec, int id, std::latch* start, ClientResult* r) {
  auto stub = braid::v1::JobService::NewStub(braid::rpc::MakeChannel(o.orchestrator, sec));
  for (auto& v : r->ms) v.reserve(static_cast<size_t>(o.rpcs / kMethods + 1));
  start->arrive_and_wait();
  for (int i = 0; i < o.rpcs; ++i) {
    const int m = (id + i) % kMethods;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(static_cast<long>(kDeadlineSeconds * 1000)));
    grpc::Status st;
    std::string what;
    const auto t0 = Clock::now();
    if (m == 0) {
      braid::v1::GetJobRequest req;
      req.set_job_id(o.job);
      braid::v1::GetJobReply rep;
      st = stub->GetJob(&ctx, req, &rep);
      if (st.ok() && rep.job().id() != o.job) what = "GetJob returned job '" + rep.job().id() + "'";
    } else if (m == 1) {
      braid::v1::ListJobsRequest req;
      braid::v1::ListJobsReply rep;
      st = stub->ListJobs(&ctx, req, &rep);
      if (st.ok() && rep.jobs_size() == 0) what = "ListJobs returned no jobs";
    } else {
      braid::v1::SubmitJobRequest req;
      req.set_job_yaml(kInvalidSpec);
      req.set_source_name("rpc_load_invalid.yaml");
      braid::v1::SubmitJobReply rep;
      st = stub->SubmitJob(&ctx, req, &rep);
      if (st.ok()) {
        what = "invalid SubmitJob accepted as job " + rep.job().id();
      } else if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
        st = grpc::Status::OK;  // the expected outcome
      }
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    r->ms[m].push_back(ms);
    if (!st.ok() && what.empty())
      what = std::string(kMethodNames[m]) + ": code " + std::to_string(static_cast<int>(st.error_code())) + ": " +
             st.error_message();
    if (!what.empty()) {
      ++r->errors[m];
      if (r->messages.size() < kMaxPrintedErrors) r->messages.push_back("client " + std::to_string(id) + ": " + what);
    }
  }
}

// Nearest-rank percentile of sorted v (p in [0, 100]).
double Percentile(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  k = std::clamp<size_t>(k, 1, v.size());
  return v[k - 1];
}

void PrintLine(const char* name, std::vector<double> v, long errors) {
  std::sort(v.begin(), v.end());
  std::printf("%-20s %8zu %8ld %9.2f %9.2f %9.2f\n", name, v.size(), errors, Percentile(v, 50), Percentile(v, 99),
              v.empty() ? 0.0 : v.back());
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  braid::rpc::RpcSecurity sec;
  if (auto st = braid::rpc::LoadSecurity(o.token_file, &sec); !st.ok()) {
    std::fprintf(stderr, "braid_rpc_load: %s\n", st.message().c_str());
    return 2;
  }

  std::vector<ClientResult> results(static_cast<size_t>(o.clients));
  std::latch start(o.clients + 1);
  std::vector<std::thread> threads;
  threads.reserve(results.size());
  for (int c = 0; c < o.clients; ++c) threads.emplace_back(RunClient, std::cref(o), std::cref(sec), c, &start, &results[c]);
  start.arrive_and_wait();
  const auto t0 = Clock::now();
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();

  std::vector<double> all, per[kMethods];
  long errors[kMethods] = {}, total_errors = 0;
  std::vector<std::string> messages;
  for (const auto& r : results) {
    for (int m = 0; m < kMethods; ++m) {
      per[m].insert(per[m].end(), r.ms[m].begin(), r.ms[m].end());
      errors[m] += r.errors[m];
      total_errors += r.errors[m];
    }
    for (const auto& s : r.messages)
      if (messages.size() < kMaxPrintedErrors) messages.push_back(s);
  }
  for (const auto& v : per) all.insert(all.end(), v.begin(), v.end());

  std::printf("%d clients x %d RPCs against %s (job %s)\n", o.clients, o.rpcs, o.orchestrator.c_str(), o.job.c_str());
  std::printf("%-20s %8s %8s %9s %9s %9s\n", "method", "count", "errors", "p50_ms", "p99_ms", "max_ms");
  for (int m = 0; m < kMethods; ++m) PrintLine(kMethodNames[m], per[m], errors[m]);
  PrintLine("all", all, total_errors);
  std::printf("wall %.2f s, throughput %.0f RPC/s, unexpected errors %ld\n", wall,
              wall > 0 ? static_cast<double>(all.size()) / wall : 0.0, total_errors);
  for (const auto& s : messages) std::printf("error: %s\n", s.c_str());
  return total_errors == 0 ? 0 : 1;
}
