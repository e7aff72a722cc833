#include "cli/local_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/supervisor.h"
#include "common/checkpoint/durable_file.h"
#include "common/gpu/device.h"
#include "common/rpc/address_file.h"

namespace braid::cli {
namespace fs = std::filesystem;
using nlohmann::json;

std::string SelfBinDir() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : self.parent_path().string();
}

namespace {

bool Alive(int pid) { return pid > 0 && kill(pid, 0) == 0; }

// True when /proc/<pid>/exe is still `binary` (the PID was not reused).
bool IsOurs(int pid, const std::string& binary) {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return !ec && fs::equivalent(exe, binary, ec);
}

}  // namespace

StatusOr<int> SpawnProcess(const std::string& binary, const std::vector<std::string>& args, const std::string& log) {
  if (access(binary.c_str(), X_OK) != 0) return Status::NotFound(binary + ": not found or not executable");
  const pid_t pid = fork();
  if (pid < 0) return Status::Internal("fork failed");
  if (pid == 0) {
    setsid();  // its own session: a Ctrl-C at the terminal reaches `braid`, which stops them in order
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  return int(pid);
}

namespace {

Status WriteState(const LocalCluster& c) {
  json j;
  j["orchestrator"] = c.orchestrator;
  if (c.supervisor_pid > 0) j["supervisor_pid"] = c.supervisor_pid;
  if (!c.certs_dir.empty()) j["certs_dir"] = c.certs_dir;
  if (!c.token_file.empty()) j["token_file"] = c.token_file;
  for (const auto& p : c.processes)
    j["processes"].push_back({{"name", p.name}, {"binary", p.binary}, {"pid", p.pid}, {"address", p.address},
                              {"metrics", p.metrics}, {"log", p.log}, {"restarts", p.restarts}});
  return ReplaceFileAtomically((fs::path(c.state_dir) / "state.json").string(), j.dump(2) + "\n");
}

// Waits until `pid` is gone or `deadline` passes, reaping it when it is our
// child. True when it is gone.
using Deadline = std::chrono::steady_clock::time_point;
Deadline SecondsFromNow(double seconds) {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

bool WaitGone(int pid, Deadline deadline) {
  while (Alive(pid) && std::chrono::steady_clock::now() < deadline) {
    waitpid(pid, nullptr, WNOHANG);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !Alive(pid);
}

// SIGTERM to each live process of `procs` that is still its binary, last
// first; SIGKILL after `grace_seconds`. Reaps the ones that are our children.
void StopProcesses(const std::vector<LaunchedProcess>& procs, double grace_seconds) {
  std::vector<LaunchedProcess> signalled;
  for (auto it = procs.rbegin(); it != procs.rend(); ++it)
    if (Alive(it->pid) && IsOurs(it->pid, it->binary)) {
      kill(it->pid, SIGTERM);
      signalled.push_back(*it);
    }
  const Deadline deadline = SecondsFromNow(grace_seconds);
  for (const auto& p : signalled) {
    if (!WaitGone(p.pid, deadline) && IsOurs(p.pid, p.binary)) {
      kill(p.pid, SIGKILL);
      waitpid(p.pid, nullptr, 0);
    }
  }
}

}  // namespace

StatusOr<LocalCluster> ReadClusterState(const std::string& state_dir) {
  const fs::path path = fs::path(state_dir) / "state.json";
  std::ifstream in(path);
  if (!in) return Status::NotFound("no local pools are up (" + path.string() + " does not exist); run `braid up`");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return Status::DataLoss(path.string() + ": not valid JSON");
  LocalCluster c;
  c.state_dir = state_dir;
  c.orchestrator = j.value("orchestrator", "");
  c.supervisor_pid = j.value("supervisor_pid", 0);
  c.certs_dir = j.value("certs_dir", "");
  c.token_file = j.value("token_file", "");
  for (const auto& p : j.value("processes", json::array())) {
    LaunchedProcess lp;
    lp.name = p.value("name", "");
    lp.binary = p.value("binary", "");
    lp.pid = p.value("pid", 0);
    lp.address = p.value("address", "");
    lp.metrics = p.value("metrics", "");
    lp.log = p.value("log", "");
    lp.restarts = p.value("restarts", 0);
    c.processes.push_back(std::move(lp));
  }
  return c;
}

namespace {

// The service whose certificate a process uses: "orchestrator",
// "reorderer" or "worker".
std::string CertName(const std::string& process) {
  return process == "orchestrator" || process == "reorderer" ? process : "worker";
}

StatusOr<LocalCluster> StartProcesses(const PoolsConfig& pools, const std::string& state_dir,
                                      const LaunchOptions& options) {
  if (auto existing = ReadClusterState(state_dir); existing.ok()) {
    for (const auto& p : existing->processes)
      if (Alive(p.pid) && IsOurs(p.pid, p.binary))
        return Status::AlreadyExists("local pools are already up (" + state_dir +
                                     "/state.json, orchestrator " + existing->orchestrator + "); run `braid down`");
  }
  std::error_code ec;
  for (const char* sub : {"logs", "addr", "orchestrator"}) fs::create_directories(fs::path(state_dir) / sub, ec);
  if (ec) return Status::Unavailable("cannot create " + state_dir + ": " + ec.message());
  for (const auto& e : fs::directory_iterator(fs::path(state_dir) / "addr", ec)) fs::remove(e.path(), ec);

  const std::string bin = SelfBinDir();
  const std::string sd = fs::absolute(state_dir).string();
  LocalCluster c;
  c.state_dir = state_dir;
  if (!options.certs_dir.empty()) {
    RETURN_IF_ERROR(CheckCertsDir(options.certs_dir));
    c.certs_dir = fs::absolute(options.certs_dir).lexically_normal().string();
  }
  if (!options.token_file.empty()) {
    RETURN_IF_ERROR(rpc::LoadToken(options.token_file).status());
    c.token_file = fs::absolute(options.token_file).lexically_normal().string();
  }
  std::map<std::string, bool> serves_metrics;  // by process name
  auto launch = [&](const std::string& name, const std::string& binary_name, std::vector<std::string> args,
                    const std::string& metrics_listen) -> Status {
    serves_metrics[name] = !metrics_listen.empty();
    LaunchedProcess p;
    p.name = name;
    p.binary = bin + "/" + binary_name;
    p.log = sd + "/logs/" + name + ".log";
    if (!c.certs_dir.empty()) {
      const std::string cert = c.certs_dir + "/" + CertName(name);
      args.insert(args.end(), {"--tls-cert", cert + ".pem", "--tls-key", cert + ".key", "--tls-ca",
                               c.certs_dir + "/ca.pem"});
    }
    if (!c.token_file.empty()) args.insert(args.end(), {"--token-file", c.token_file});
    args.push_back("--address-file");
    args.push_back(sd + "/addr/" + name);
    args.push_back("--metrics-address-file");
    args.push_back(sd + "/addr/" + name + ".metrics");
    p.args = args;
    ASSIGN_OR_RETURN(p.pid, SpawnProcess(p.binary, args, p.log));
    c.processes.push_back(p);
    return WriteState(c);
  };
  auto fail = [&](const Status& s) -> Status {
    (void)StopLocalPools(state_dir, 5);
    return s;
  };
  const std::string runs_root =
      fs::absolute(options.runs_root.empty() ? "." : options.runs_root).lexically_normal().string();
  Status s = launch("reorderer", "braid-reorderer",
                    {"--listen", pools.reorderer.listen, "--metrics-listen", pools.reorderer.metrics_listen,
                     "--threads", std::to_string(pools.reorderer.threads)},
                    pools.reorderer.metrics_listen);
  if (s.ok())
    s = launch("orchestrator", "braid-orchestrator",
               {"--listen", pools.orchestrator.listen, "--metrics-listen", pools.orchestrator.metrics_listen,
                "--state-dir", sd + "/orchestrator", "--reorderer-address-file", sd + "/addr/reorderer",
                "--runs-root", runs_root},
               pools.orchestrator.metrics_listen);
  if (!s.ok()) return fail(s);
  for (size_t i = 0; i < c.processes.size(); ++i) {
    auto addr = rpc::ReadAddressFile(sd + "/addr/" + c.processes[i].name, 30);
    if (!addr.ok())
      return fail(Status::Unavailable(c.processes[i].name + " did not start (see " + c.processes[i].log +
                                      "): " + addr.status().message()));
    c.processes[i].address = *addr;
    if (c.processes[i].name == "orchestrator") c.orchestrator = *addr;
  }
  struct Pool {
    const char* role;
    PoolSpec spec;
  };
  for (const Pool& pool : {Pool{"encoder", pools.encoder}, Pool{"llm", pools.llm}, Pool{"generator", pools.generator}})
    for (int r = 0; r < pool.spec.workers; ++r) {
      const std::string name = std::string(pool.role) + "-" + std::to_string(r);
      std::vector<std::string> args = {"--orchestrator", c.orchestrator, "--threads",
                                       std::to_string(pool.spec.threads), "--name", name, "--metrics-listen",
                                       pool.spec.metrics_listen, "--listen", "127.0.0.1:0"};
      if (pool.spec.adaptive_threads) args.push_back("--adaptive-threads");
      if (pool.spec.device != "cpu")
        args.insert(args.end(), {"--device", pool.spec.device, "--device-index",
                                 std::to_string(DeviceIndexOf(pool.spec, r))});
      s = launch(name, std::string("braid-") + pool.role + "-worker", args, pool.spec.metrics_listen);
      if (!s.ok()) return fail(s);
    }
  for (LaunchedProcess& p : c.processes) {
    if (!serves_metrics[p.name]) continue;
    auto addr = rpc::ReadAddressFile(sd + "/addr/" + p.name + ".metrics", 30);
    if (!addr.ok())
      return fail(Status::Unavailable(p.name + " serves no metrics (see " + p.log + "): " + addr.status().message()));
    p.metrics = *addr;
  }
  if (Status t = WriteClusterFiles(c); !t.ok()) return fail(t);
  return c;
}

}  // namespace

std::string TargetsPath(const std::string& state_dir) { return (fs::path(state_dir) / "targets.json").string(); }

std::string TargetsJson(const LocalCluster& c) {
  json groups = json::array();
  for (const LaunchedProcess& p : c.processes) {
    if (p.metrics.empty()) continue;
    const std::string role = p.name.substr(0, p.name.find('-'));  // "llm-0" -> "llm"
    groups.push_back({{"targets", {p.metrics}}, {"labels", {{"role", role}, {"instance_name", p.name}}}});
  }
  return groups.dump(2) + "\n";
}

Status StopLocalPools(const std::string& state_dir, double grace_seconds) {
  ASSIGN_OR_RETURN(LocalCluster c, ReadClusterState(state_dir));
  const std::string self = (fs::path(SelfBinDir()) / "braid").string();
  if (c.supervisor_pid > 0 && Alive(c.supervisor_pid) && IsOurs(c.supervisor_pid, self)) {
    // The supervisor stops its processes in order and removes the files.
    kill(c.supervisor_pid, SIGTERM);
    WaitGone(c.supervisor_pid, SecondsFromNow(grace_seconds + 5));
    if (auto now = ReadClusterState(state_dir); now.ok()) c = *now;  // restarted PIDs
    if (Alive(c.supervisor_pid) && IsOurs(c.supervisor_pid, self)) kill(c.supervisor_pid, SIGKILL);
  }
  // Without a supervisor (`braid run`), or whatever it left behind.
  StopProcesses(c.processes, grace_seconds);
  std::error_code ec;
  fs::remove(fs::path(state_dir) / "state.json", ec);
  fs::remove(TargetsPath(state_dir), ec);
  return Status::Ok();
}

Status CheckCertsDir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::InvalidArgument("--certs " + dir + ": not a directory (make one with `braid certs " + dir + "`)");
  for (const char* name : {"ca.pem", "orchestrator.pem", "orchestrator.key", "reorderer.pem", "reorderer.key",
                           "worker.pem", "worker.key", "client.pem", "client.key"}) {
    const fs::path f = fs::path(dir) / name;
    if (!fs::is_regular_file(f, ec))
      return Status::InvalidArgument("--certs " + dir + ": " + f.string() + " is missing (`braid certs " + dir +
                                     "` makes every file)");
  }
  return Status::Ok();
}

StatusOr<rpc::RpcSecurity> ClusterClientSecurity(const LocalCluster& c, const rpc::RpcSecurity& given) {
  rpc::RpcSecurity s = given;
  if (s.token.empty() && !c.token_file.empty()) {
    ASSIGN_OR_RETURN(s.token, rpc::LoadToken(c.token_file));
  }
  if (s.tls_ca.empty() && !c.certs_dir.empty()) {
    s.tls_ca = c.certs_dir + "/ca.pem";
    if (s.tls_cert.empty() && s.tls_key.empty()) {
      s.tls_cert = c.certs_dir + "/client.pem";
      s.tls_key = c.certs_dir + "/client.key";
    }
    const std::string token = s.token;
    RETURN_IF_ERROR(rpc::LoadSecurity("", &s));  // reads the PEM files (and the env token, kept below)
    s.token = token;
  }
  return s;
}

Status WriteClusterFiles(const LocalCluster& c) {
  RETURN_IF_ERROR(WriteState(c));
  return ReplaceFileAtomically(TargetsPath(c.state_dir), TargetsJson(c));
}

void StopClusterProcesses(const LocalCluster& c, double grace_seconds) { StopProcesses(c.processes, grace_seconds); }

Status CheckPoolDevices(const PoolsConfig& pools) {
  const std::pair<const char*, const PoolSpec*> all[] = {
      {"encoder", &pools.encoder}, {"llm", &pools.llm}, {"generator", &pools.generator}};
  for (const auto& [role, spec] : all) {
    if (spec->device != "cuda") continue;
    for (int r = 0; r < spec->workers; ++r)
      if (Status s = gpu::CheckDevice(DeviceIndexOf(*spec, r)); !s.ok())
        return Status(s.code(), std::string(role) + "-" + std::to_string(r) + ": " + s.message());
  }
  return Status::Ok();
}

StatusOr<LocalCluster> StartLocalPools(const PoolsConfig& pools, const std::string& state_dir,
                                       const LaunchOptions& options) {
  if (!options.supervise) return StartProcesses(pools, state_dir, options);
  // The supervisor is a child in a session of its own; it starts the
  // processes (so they are its children) and reports through a pipe.
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Internal("pipe failed");
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return Status::Internal("fork failed");
  if (pid == 0) {
    close(fds[0]);
    setsid();
    std::error_code ec;
    fs::create_directories(fs::path(state_dir) / "logs", ec);
    const std::string log = (fs::path(state_dir) / "logs" / "supervisor.log").string();
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    StatusOr<LocalCluster> c = StartProcesses(pools, state_dir, options);
    std::string reply = "ok\n";
    if (c.ok()) {
      c->supervisor_pid = int(getpid());
      Status w = WriteClusterFiles(*c);
      if (!w.ok()) {
        StopProcesses(c->processes, 5);
        reply = w.message();
      }
    } else {
      reply = c.status().message();
    }
    (void)!write(fds[1], reply.data(), reply.size());
    close(fds[1]);
    if (reply != "ok\n") _exit(1);
    _exit(SuperviseLocalPools(*c));
  }
  close(fds[1]);
  std::string reply;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    reply.append(buf, size_t(n));
  }
  close(fds[0]);
  if (reply != "ok\n") {
    waitpid(pid, nullptr, 0);
    return Status::Unavailable(reply.empty() ? "the supervisor died while starting the pools (see " + state_dir +
                                                   "/logs/supervisor.log)"
                                             : reply);
  }
  return ReadClusterState(state_dir);
}

}  // namespace braid::cli
