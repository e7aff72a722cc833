// `braid certs DIR [--san NAME ...] [--force]`: a development CA and one
// certificate per service, made with Debian's `openssl` binary
// (docs/RELIABILITY.md, "Security"). Not for production: the CA key sits
// next to the certificates.
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace braid::cli {
namespace {

namespace fs = std::filesystem;

// The services that get a certificate: each serves (or dials) with
// NAME.pem and NAME.key. Every certificate is good for both server and
// client authentication.
constexpr const char* kServices[] = {"orchestrator", "reorderer", "worker", "client"};

struct CertsArgs {
  std::string dir;
  std::vector<std::string> sans;
  bool force = false;
  int days = 825;
};

// The openssl binary on PATH, or "".
std::string FindOpenssl() {
  const char* path = std::getenv("PATH");
  std::string p = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    const size_t end = p.find(':', start);
    std::string d = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (d.empty()) d = ".";
    const std::string candidate = d + "/openssl";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return "";
}

// Runs `openssl args...`; Ok, or Unavailable with what it printed.
Status RunOpenssl(const std::string& openssl, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Unavailable(std::string("pipe: ") + std::strerror(errno));
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(openssl.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Status::Unavailable(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, size_t(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  std::string cmd = "openssl";
  for (const std::string& a : args) cmd += " " + a;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return Status::Unavailable("`" + cmd + "` failed (" +
                            (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                               : "signal " + std::to_string(WTERMSIG(status))) +
                            ")" + (out.empty() ? "" : ":\n" + out));
}

// "DNS:name" or "IP:addr"; InvalidArgument for a name openssl's config
// syntax or a certificate cannot hold.
StatusOr<std::string> SanEntry(const std::string& name) {
  unsigned char addr[sizeof(in6_addr)];
  if (inet_pton(AF_INET, name.c_str(), addr) == 1 || inet_pton(AF_INET6, name.c_str(), addr) == 1)
    return "IP:" + name;
  if (name.empty() || name.size() > 253)
    return Status::InvalidArgument("--san '" + name + "': not a host name or IP address");
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '*'))
      return Status::InvalidArgument("--san '" + name + "': not a host name or IP address (only letters, digits, "
                                     "'-', '.' and a leading '*.' are allowed)");
  return "DNS:" + name;
}

// A random positive 128-bit serial number, in openssl's 0x notation.
std::string RandomSerial() {
  unsigned char b[16] = {};
  std::ifstream in("/dev/urandom", std::ios::binary);
  in.read(reinterpret_cast<char*>(b), sizeof b);
  b[0] = (b[0] & 0x7f) | 0x01;  // positive, and the full 16 bytes long
  std::string s = "0x";
  char hex[3];
  for (unsigned char c : b) {
    std::snprintf(hex, sizeof hex, "%02x", c);
    s += hex;
  }
  return s;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "braid certs: %s\n", s.message().c_str());
  return ExitCodeFor(s);
}

int Certs(const CertsArgs& a) {
  std::string san = "DNS:localhost, IP:127.0.0.1";
  for (const std::string& name : a.sans) {
    StatusOr<std::string> e = SanEntry(name);
    if (!e.ok()) return Fail(e.status());
    san += ", " + *e;
  }
  const std::string openssl = FindOpenssl();
  if (openssl.empty())
    return Fail(Status::Unavailable(
        "the `openssl` program is not on PATH (Debian package openssl: `apt-get install openssl`, or run "
        "scripts/setup.sh)"));

  std::error_code ec;
  if (fs::exists(a.dir, ec) && !fs::is_directory(a.dir, ec))
    return Fail(Status::InvalidArgument(a.dir + " exists and is not a directory"));
  fs::create_directories(a.dir, ec);
  if (ec) return Fail(Status::Unavailable("cannot create " + a.dir + ": " + ec.message()));
  const std::string dir = fs::path(a.dir).lexically_normal().string();
  auto file = [&dir](const std::string& name) { return (fs::path(dir) / name).string(); };

  std::vector<std::string> outputs = {"ca.pem", "ca.key"};
  for (const char* s : kServices) {
    outputs.push_back(std::string(s) + ".pem");
    outputs.push_back(std::string(s) + ".key");
  }
  if (!a.force) {
    std::vector<std::string> existing;
    for (const std::string& o : outputs)
      if (fs::exists(file(o), ec)) existing.push_back(file(o));
    if (!existing.empty())
      return Fail(Status::InvalidArgument(
          existing[0] + " already exists" +
          (existing.size() > 1 ? " (and " + std::to_string(existing.size() - 1) + " more of the files)" : "") +
          ": pass --force to overwrite"));
  }

  const mode_t old_umask = umask(077);  // keys are created 0600 from the start
  const std::string ext = file(".braid-certs-ext.cnf");
  std::vector<std::string> temps = {ext};
  auto run = [&]() -> Status {
    {
      std::ofstream out(ext, std::ios::trunc);
      out << "[braid]\n"
             "basicConstraints = critical, CA:FALSE\n"
             "keyUsage = critical, digitalSignature, keyEncipherment\n"
             "extendedKeyUsage = serverAuth, clientAuth\n"
             "subjectKeyIdentifier = hash\n"
             "authorityKeyIdentifier = keyid\n"
             "subjectAltName = "
          << san << "\n";
      if (!out) return Status::Unavailable("cannot write " + ext);
    }
    const std::vector<std::string> ec_key = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
    std::vector<std::string> ca = {"req", "-x509", "-new"};
    ca.insert(ca.end(), ec_key.begin(), ec_key.end());
    ca.insert(ca.end(), {"-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", std::to_string(a.days + 365),
                         "-sha256", "-subj", "/CN=braid dev CA", "-set_serial", RandomSerial(), "-addext",
                         "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
    RETURN_IF_ERROR(RunOpenssl(openssl, ca));
    for (const char* s : kServices) {
      const std::string name = s, csr = file(name + ".csr");
      temps.push_back(csr);
      std::vector<std::string> req = {"req", "-new"};
      req.insert(req.end(), ec_key.begin(), ec_key.end());
      req.insert(req.end(), {"-keyout", file(name + ".key"), "-out", csr, "-subj", "/CN=braid-" + name});
      RETURN_IF_ERROR(RunOpenssl(openssl, req));
      RETURN_IF_ERROR(RunOpenssl(openssl, {"x509", "-req", "-in", csr, "-CA", file("ca.pem"), "-CAkey",
                                           file("ca.key"), "-set_serial", RandomSerial(), "-days",
                                           std::to_string(a.days), "-sha256", "-extfile", ext, "-extensions",
                                           "braid", "-out", file(name + ".pem")}));
    }
    for (const std::string& o : outputs) {
      const bool key = o.size() > 4 && o.compare(o.size() - 4, 4, ".key") == 0;
      fs::permissions(file(o), key ? fs::perms::owner_read | fs::perms::owner_write
                                   : fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                         fs::perms::others_read,
                      ec);
      if (ec) return Status::Unavailable("chmod " + file(o) + ": " + ec.message());
    }
    return Status::Ok();
  };
  const Status st = run();
  umask(old_umask);
  for (const std::string& t : temps) fs::remove(t, ec);
  if (!st.ok()) return Fail(st);

  std::fprintf(stderr,
               "braid certs: wrote %s: ca.pem + ca.key (the dev CA) and a certificate + key for each of "
               "orchestrator, reorderer, worker, client (SANs %s; keys 0600)\n"
               "  servers: --tls-cert %s --tls-key %s --tls-ca %s  (reorderer.*, worker.* likewise)\n"
               "  clients: braid --tls-ca %s ...\n",
               dir.c_str(), san.c_str(), file("orchestrator.pem").c_str(), file("orchestrator.key").c_str(),
               file("ca.pem").c_str(), file("ca.pem").c_str());
  return kExitOk;
}

}  // namespace

void RegisterCerts(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<CertsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "certs",
      "Make a development CA (ca.pem, ca.key) and a certificate and key per service (orchestrator, reorderer, "
      "worker, client; server and client use) signed by it, with the `openssl` program, for --tls-cert, "
      "--tls-key and --tls-ca (docs/RELIABILITY.md, \"Security\")");
  cmd->add_option("dir", a->dir, "directory to write them in (created if missing)")->required();
  cmd->add_option("--san", a->sans,
                  "a further host name or IP address the certificates are valid for (repeatable; localhost and "
                  "127.0.0.1 are always in)")
      ->allow_extra_args(false);
  cmd->add_flag("--force", a->force, "overwrite existing files");
  cmd->add_option("--days", a->days, "validity of the service certificates in days (the CA: one year more)")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  cmd->callback([run, a] { *run = [a] { return Certs(*a); }; });
}

}  // namespace braid::cli
