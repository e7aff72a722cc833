// braid up / down / run: local pools of real processes.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/job_client.h"
#include "cli/local_launcher.h"
#include "common/config/job_config.h"
#include "common/rpc/client_context.h"

namespace braid::cli {
namespace fs = std::filesystem;

int SubmitJobFile(const std::string& orchestrator, const std::string& job_file, std::string* job_id);

namespace {

struct PoolArgs {
  std::string pools;
  std::string state_dir = kDefaultStateDir;
  std::string job_file;
  std::string runs_root;
  std::string certs;
  bool keep_up = false;
  bool quiet = false;
};

volatile sig_atomic_t g_interrupted = 0;

void PrintCluster(const LocalCluster& c) {
  for (const auto& p : c.processes)
    std::fprintf(stderr, "  %-13s pid %-7d %s  metrics %s  log %s\n", p.name.c_str(), p.pid, p.address.c_str(),
                 p.metrics.c_str(), p.log.c_str());
}

// The token file: the global --token-file (or env BRAID_TOKEN_FILE); env
// BRAID_TOKEN reaches the processes by inheritance.
LaunchOptions LaunchOptionsFor(const PoolArgs& a, bool supervise) {
  return {supervise, a.runs_root, a.certs, ClientSecurityFlags().token_file};
}

// Bad --certs / --token-file is bad input (exit 2), found before anything starts.
bool CheckSecurityArgs(const LaunchOptions& o, const char* command) {
  Status s = o.certs_dir.empty() ? Status::Ok() : CheckCertsDir(o.certs_dir);
  if (s.ok() && !o.token_file.empty()) s = rpc::LoadToken(o.token_file).status();
  if (!s.ok()) std::fprintf(stderr, "braid %s: %s\n", command, s.message().c_str());
  return s.ok();
}

}  // namespace

void RegisterPoolCommands(CLI::App& app, std::function<int()>* run) {
  {
    auto a = std::make_shared<PoolArgs>();
    CLI::App* cmd = app.add_subcommand(
        "up", "Start local pools (orchestrator, reorderer, workers) in the background, under a supervisor that "
              "restarts any process that dies");
    cmd->add_option("--pools", a->pools, "pools file")->default_str("deploy/local/pools.yaml");
    cmd->add_option("--state-dir", a->state_dir, "where PIDs, addresses and logs go")->capture_default_str();
    cmd->add_option("--runs-root", a->runs_root,
                    "jobs' run dirs must be under this directory (default: the working directory)");
    cmd->add_option("--certs", a->certs,
                    "a `braid certs` directory: every process serves and dials TLS with its certificate; later "
                    "CLI calls with this --state-dir use its CA and client certificate");
    cmd->callback([run, a] {
      *run = [a] {
        const std::string path = a->pools.empty() ? "deploy/local/pools.yaml" : a->pools;
        auto pools = LoadPoolsConfig(path);
        if (!pools.ok()) {
          std::fprintf(stderr, "%s\n", pools.status().message().c_str());
          return kExitBadInput;
        }
        const LaunchOptions options = LaunchOptionsFor(*a, /*supervise=*/true);
        if (!CheckSecurityArgs(options, "up")) return kExitBadInput;
        if (Status s = CheckPoolDevices(*pools); !s.ok()) {
          std::fprintf(stderr, "braid up: %s\n", s.message().c_str());
          return kExitBadInput;
        }
        auto c = StartLocalPools(*pools, a->state_dir, options);
        if (!c.ok()) {
          std::fprintf(stderr, "braid up: %s\n", c.status().message().c_str());
          return kExitRuntime;
        }
        PrintCluster(*c);
        std::fprintf(stderr, "  %-13s pid %-7d restarts any process that dies; log %s/logs/supervisor.log\n",
                     "supervisor", c->supervisor_pid, a->state_dir.c_str());
        std::printf("%s\n", c->orchestrator.c_str());
        std::fprintf(stderr, "state file %s/state.json; stop with `braid down`\n", a->state_dir.c_str());
        std::fprintf(stderr, "Prometheus file_sd targets: %s\n", std::filesystem::absolute(TargetsPath(a->state_dir)).c_str());
        return kExitOk;
      };
    });
  }
  {
    auto a = std::make_shared<PoolArgs>();
    CLI::App* cmd = app.add_subcommand("down", "Stop exactly the processes `braid up` started");
    cmd->add_option("--state-dir", a->state_dir, "state directory of `braid up`")->capture_default_str();
    cmd->callback([run, a] {
      *run = [a] {
        Status s = StopLocalPools(a->state_dir);
        if (!s.ok()) {
          std::fprintf(stderr, "braid down: %s\n", s.message().c_str());
          return s.code() == StatusCode::kNotFound ? kExitBadInput : kExitRuntime;
        }
        std::fprintf(stderr, "stopped\n");
        return kExitOk;
      };
    });
  }
  {
    auto a = std::make_shared<PoolArgs>();
    CLI::App* cmd = app.add_subcommand(
        "run", "Start local pools, submit JOB, follow it, stop the pools; exit code = the job's outcome");
    cmd->add_option("job", a->job_file, "job spec (YAML)")->required();
    cmd->add_option("--pools", a->pools, "pools file (default: pools sized to the job's layout)");
    cmd->add_option("--state-dir", a->state_dir, "state directory (default: .braid/run-<pid>)");
    cmd->add_option("--runs-root", a->runs_root,
                    "the job's run dir must be under this directory (default: the working directory)");
    cmd->add_option("--certs", a->certs,
                    "a `braid certs` directory: every process serves and dials TLS with its certificate; later "
                    "CLI calls with this --state-dir use its CA and client certificate");
    cmd->add_flag("--keep-up", a->keep_up, "leave the pools running afterwards");
    cmd->add_flag("-q,--quiet", a->quiet, "no progress bar");
    cmd->callback([run, a] {
      *run = [a] {
        auto job = LoadJobConfig(a->job_file);
        if (!job.ok()) {
          std::fprintf(stderr, "%s\n", job.status().message().c_str());
          return kExitBadInput;
        }
        PoolsConfig pools = PoolsForJob(*job);
        if (!a->pools.empty()) {
          auto p = LoadPoolsConfig(a->pools);
          if (!p.ok()) {
            std::fprintf(stderr, "%s\n", p.status().message().c_str());
            return kExitBadInput;
          }
          pools = *p;
        }
        std::string state_dir = a->state_dir;
        if (state_dir == kDefaultStateDir) state_dir = std::string(kDefaultStateDir) + "/run-" + std::to_string(getpid());
        const LaunchOptions options = LaunchOptionsFor(*a, /*supervise=*/false);
        if (!CheckSecurityArgs(options, "run")) return kExitBadInput;
        if (Status s = CheckPoolDevices(pools); !s.ok()) {
          std::fprintf(stderr, "braid run: %s\n", s.message().c_str());
          return kExitBadInput;
        }
        auto c = StartLocalPools(pools, state_dir, options);
        if (!c.ok()) {
          std::fprintf(stderr, "braid run: %s\n", c.status().message().c_str());
          return kExitRuntime;
        }
        if (!a->quiet) PrintCluster(*c);
        if (Status s = UseClusterSecurity(*c); !s.ok()) {
          std::fprintf(stderr, "braid run: %s\n", s.message().c_str());
          (void)StopLocalPools(state_dir);
          return kExitBadInput;
        }
        signal(SIGINT, [](int) { g_interrupted = 1; });
        signal(SIGTERM, [](int) { g_interrupted = 1; });
        std::string id;
        int rc = SubmitJobFile(c->orchestrator, a->job_file, &id);
        if (rc == kExitOk) {
          std::printf("RUN_ID %s\n", id.c_str());
          std::fflush(stdout);
          auto stub = MakeJobStub(c->orchestrator);
          // Watchdog: a pool process that dies, or Ctrl-C / SIGTERM, cancels
          // the job so the watch below ends instead of waiting forever.
          std::atomic<bool> watching{true};
          std::string why;
          std::mutex why_mu;
          std::thread watchdog([&] {
            auto cancel = [&](const std::string& reason) {
              {
                std::lock_guard<std::mutex> lock(why_mu);
                why = reason;
              }
              v1::CancelJobRequest req;
              req.set_job_id(id);
              req.set_reason(reason);
              v1::CancelJobReply reply;
              auto ctx = rpc::MakeContext();
              stub->CancelJob(ctx.get(), req, &reply);
            };
            while (watching) {
              if (g_interrupted) {
                cancel("interrupted");
                return;
              }
              for (const auto& p : c->processes) {
                int st = 0;
                if (waitpid(p.pid, &st, WNOHANG) == p.pid) {
                  const std::string how = WIFEXITED(st) ? "exited with code " + std::to_string(WEXITSTATUS(st))
                                                        : "was killed by signal " + std::to_string(WTERMSIG(st));
                  const std::string what = p.name + " (pid " + std::to_string(p.pid) + ") " + how + "; see " + p.log;
                  std::fprintf(stderr, "\nbraid run: %s\n", what.c_str());
                  // The orchestrator fails a running job whose worker stops
                  // heartbeating (<= 5 s); cancel only if it has not by then
                  // (e.g. the job was still waiting for that worker).
                  for (int i = 0; i < 40 && watching && !g_interrupted; ++i)
                    std::this_thread::sleep_for(std::chrono::milliseconds(200));
                  if (watching) cancel(what);
                  return;
                }
              }
              std::this_thread::sleep_for(std::chrono::milliseconds(200));
            }
          });
          auto final_job = WatchUntilDone(stub.get(), id, a->quiet);
          watching = false;
          watchdog.join();
          if (!why.empty()) std::fprintf(stderr, "braid run: %s\n", why.c_str());
          if (!final_job.ok()) {
            std::fprintf(stderr, "braid run: %s\n", final_job.status().message().c_str());
            rc = kExitRuntime;
          } else {
            std::printf("%s\nRUN_DIR %s\n", JobLine(*final_job).c_str(), final_job->run_dir().c_str());
            rc = final_job->state() == v1::JOB_STATE_SUCCEEDED ? kExitOk : kExitRuntime;
          }
        }
        if (!a->keep_up) {
          (void)StopLocalPools(state_dir);
          std::error_code ec;
          if (a->state_dir == kDefaultStateDir) fs::remove_all(state_dir, ec);
        }
        return rc;
      };
    });
  }
}

}  // namespace braid::cli
