#include "cli/supervisor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <thread>

#include "common/rpc/address_file.h"

namespace braid::cli {
namespace fs = std::filesystem;

namespace {

volatile sig_atomic_t g_stop = 0;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// One line of the supervisor's log, with the local time.
void Log(const std::string& text) {
  const std::time_t t = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  std::fprintf(stderr, "%s supervisor: %s\n", when, text.c_str());
  std::fflush(stderr);
}

std::string HowItEnded(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

// What the supervisor knows of each process beyond LocalCluster.
struct Tracked {
  double started = 0;       // Now() at its last start
  double delay = 0;         // the backoff used for its last restart
  double restart_at = -1;   // >= 0: dead, to be started then
  bool awaiting_address = false;
};

}  // namespace

double NextRestartDelay(double previous_delay, double uptime_seconds) {
  if (previous_delay <= 0 || uptime_seconds >= 60) return 0.5;
  return std::min(10.0, previous_delay * 2);
}

std::vector<std::string> RestartArgs(const std::vector<std::string>& args, const std::string& bound_address) {
  std::vector<std::string> out = args;
  if (bound_address.empty()) return out;
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] != "--listen") continue;
    const std::string& listen = out[i + 1];
    if (listen.size() >= 2 && listen.compare(listen.size() - 2, 2, ":0") == 0) out[i + 1] = bound_address;
  }
  return out;
}

int SuperviseLocalPools(LocalCluster c) {
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGHUP, SIG_IGN);
  const std::string addr_dir = (fs::path(c.state_dir) / "addr").string();
  std::vector<Tracked> tracked(c.processes.size());
  for (Tracked& t : tracked) t.started = Now();
  Log("supervising " + std::to_string(c.processes.size()) + " processes of " + c.state_dir);

  while (!g_stop) {
    // Reap every child that ended and schedule its restart.
    int status = 0;
    for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;) {
      for (size_t i = 0; i < c.processes.size(); ++i) {
        LaunchedProcess& p = c.processes[i];
        if (p.pid != pid) continue;
        Tracked& t = tracked[i];
        t.delay = NextRestartDelay(t.delay, Now() - t.started);
        t.restart_at = Now() + t.delay;
        t.awaiting_address = false;
        Log(p.name + " (pid " + std::to_string(pid) + ") " + HowItEnded(status) + "; restarting in " +
            std::to_string(t.delay).substr(0, 4) + " s (see " + p.log + ")");
      }
    }
    const double now = Now();
    bool changed = false;
    for (size_t i = 0; i < c.processes.size(); ++i) {
      LaunchedProcess& p = c.processes[i];
      Tracked& t = tracked[i];
      if (t.restart_at >= 0 && now >= t.restart_at) {
        std::error_code ec;
        fs::remove(fs::path(addr_dir) / p.name, ec);
        fs::remove(fs::path(addr_dir) / (p.name + ".metrics"), ec);
        // Clients hold the orchestrator's and the reorderer's addresses: those
        // come back on the same port. Workers take any free port.
        const bool fixed = p.name == "orchestrator" || p.name == "reorderer";
        StatusOr<int> pid = SpawnProcess(p.binary, RestartArgs(p.args, fixed ? p.address : ""), p.log);
        if (!pid.ok()) {
          Log("cannot restart " + p.name + ": " + pid.status().message());
          t.delay = NextRestartDelay(t.delay, 0);
          t.restart_at = now + t.delay;
          continue;
        }
        p.pid = *pid;
        ++p.restarts;
        t.started = now;
        t.restart_at = -1;
        t.awaiting_address = true;
        changed = true;
        Log("restarted " + p.name + " as pid " + std::to_string(p.pid) + " (restart " + std::to_string(p.restarts) +
            ")");
      }
      if (t.awaiting_address) {
        // Its metrics port is new: state.json and targets.json follow.
        auto metrics = rpc::ReadAddressFile((fs::path(addr_dir) / (p.name + ".metrics")).string(), 0);
        auto addr = rpc::ReadAddressFile((fs::path(addr_dir) / p.name).string(), 0);
        if (addr.ok() && (metrics.ok() || p.metrics.empty())) {
          p.address = *addr;
          if (metrics.ok()) p.metrics = *metrics;
          if (p.name == "orchestrator") c.orchestrator = p.address;
          t.awaiting_address = false;
          changed = true;
        }
      }
    }
    if (changed) {
      if (Status s = WriteClusterFiles(c); !s.ok()) Log("cannot update the state files: " + s.message());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Log("stopping every process");
  StopClusterProcesses(c, 10);
  std::error_code ec;
  fs::remove(fs::path(c.state_dir) / "state.json", ec);
  fs::remove(TargetsPath(c.state_dir), ec);
  Log("stopped");
  return 0;
}

}  // namespace braid::cli
