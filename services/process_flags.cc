#include "services/process_flags.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/base/log.h"
#include "common/metrics/rpc_metrics.h"
#include "common/rpc/address_file.h"
#include "common/rpc/server.h"

namespace braid {

void AddProcessFlags(CLI::App& app, ProcessFlags* f) {
  app.add_option("--listen", f->listen, "HOST:PORT to serve on (port 0 = any free port)")
      ->envname("BRAID_LISTEN")
      ->capture_default_str();
  app.add_option("--address-file", f->address_file, "write the bound HOST:PORT here once serving");
  app.add_option("--metrics-listen", f->metrics_listen, "HOST:PORT for Prometheus metrics (empty = off)")
      ->envname("BRAID_METRICS_LISTEN")
      ->capture_default_str();
  app.add_option("--metrics-address-file", f->metrics_address_file,
                 "write the bound metrics HOST:PORT here once serving (braid up lists it in targets.json)");
  app.add_option("--log-level", f->log_level, "debug, info, warn or error")
      ->envname("BRAID_LOG_LEVEL")
      ->capture_default_str();
  app.add_option("--token-file", f->token_file,
                 "file holding the bearer token required of (and sent on) every call (else env BRAID_TOKEN)")
      ->envname("BRAID_TOKEN_FILE");
  app.add_option("--tls-cert", f->security.tls_cert, "PEM certificate: serve TLS (also the client certificate)")
      ->envname("BRAID_TLS_CERT");
  app.add_option("--tls-key", f->security.tls_key, "PEM private key of --tls-cert")->envname("BRAID_TLS_KEY");
  app.add_option("--tls-ca", f->security.tls_ca,
                 "PEM CA certificate: dial other braid services over TLS verified against it, and verify client "
                 "certificates")
      ->envname("BRAID_TLS_CA");
  app.add_flag("--insecure-listen", f->security.insecure_listen,
               "allow a non-loopback --listen without TLS (plaintext; the log says so)")
      ->envname("BRAID_INSECURE_LISTEN");
  app.parse_complete_callback([f] {
    if (Status s = rpc::LoadSecurity(f->token_file, &f->security); !s.ok()) throw CLI::ValidationError(s.message());
    rpc::SetProcessSecurity(f->security);
  });
}

rpc::ServerOptions ServerOptionsFor(const ProcessFlags& f, prometheus::Registry& registry, int max_receive_bytes) {
  rpc::ServerOptions o;
  o.security = f.security;
  o.on_auth_failure = MakeAuthFailureCounter(registry);
  o.max_receive_bytes = max_receive_bytes;
  return o;
}

bool ApplyLogLevel(const ProcessFlags& f) {
  if (f.log_level == "debug") SetLogLevel(LogLevel::kDebug);
  else if (f.log_level == "info") SetLogLevel(LogLevel::kInfo);
  else if (f.log_level == "warn") SetLogLevel(LogLevel::kWarn);
  else if (f.log_level == "error") SetLogLevel(LogLevel::kError);
  else {
    std::fprintf(stderr, "--log-level: '%s' is not one of debug, info, warn, error\n", f.log_level.c_str());
    return false;
  }
  return true;
}

bool WriteMetricsAddress(const ProcessFlags& f, int bound_port) {
  if (f.metrics_address_file.empty() || bound_port <= 0) return true;
  Status s = rpc::WriteAddressFile(f.metrics_address_file, rpc::DialAddress(f.metrics_listen, bound_port));
  if (!s.ok()) LOG_ERROR("--metrics-address-file: %s", s.ToString().c_str());
  return s.ok();
}

void AddDeviceFlags(CLI::App& app, DeviceFlags* f) {
  app.add_option("--device", f->device,
                 "what this worker computes on: cpu or cuda; it gets only jobs whose `device` is the same")
      ->envname("BRAID_DEVICE")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--device-index", f->device_index,
                 "the CUDA device to use with --device cuda (checked before registering: a missing device "
                 "exits 2 with \"cuda device N requested, M present\")")
      ->envname("BRAID_DEVICE_INDEX")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

namespace {

// Runs `args` (args[0] a path) and returns its exit code, with its stdout
// and stderr in *output.
StatusOr<int> RunCapturing(const std::vector<std::string>& args, std::string* output) {
  int fds[2];
  if (pipe(fds) != 0) return Status::Internal(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (err != 0) {
    close(fds[0]);
    return Status::FailedPrecondition("cannot run " + args[0] + ": " + std::strerror(err));
  }
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n > 0) output->append(buf, static_cast<size_t>(n));
    else if (errno != EINTR) break;
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

Status CheckDeviceFlags(const DeviceFlags& f) {
  if (f.device != "cuda") return Status::Ok();
  // Out of process: braid-device-check links the CUDA runtime, this process
  // must not (services/device_check/main.cc says why).
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string checker = (ec ? std::filesystem::path(".") : self.parent_path()) / "braid-device-check";
  std::string output;
  ASSIGN_OR_RETURN(int code, RunCapturing({checker, std::to_string(f.device_index)}, &output));
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  if (code == 0) return Status::Ok();
  if (code == 1) return Status::FailedPrecondition(output);  // "cuda device 3 requested, 2 present"
  return Status::FailedPrecondition(checker + " exited with code " + std::to_string(code) + ": " + output);
}

}  // namespace braid
