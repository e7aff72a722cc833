// `braid profile --machine`: this host as a planner cluster spec
// (deploy/clusters/local-cpu.yaml): one node whose devices are its cores,
// shared by every worker process. Measures one core's matmul rate with
// braid's own kernel (the planner's peak: the CPU kernels compute in fp32),
// memory bandwidth and copy rate with memcpy, and the one-way latency of a
// local socket ping-pong.
#include "cli/profile_machine.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/base/clock.h"
#include "common/base/threads.h"
#include "common/ops/cpu/matmul.h"
#include "common/plan/cluster_spec.h"

namespace braid::cli {
namespace {

double BestOf(int repeats, const std::function<void()>& f) {
  double best = 1e30;
  for (int r = 0; r <= repeats; ++r) {
    const double t0 = NowSeconds();
    f();
    if (r > 0) best = std::min(best, NowSeconds() - t0);  // the first run warms up
  }
  return best;
}

double MatmulFlops(int repeats) {
  const int64_t n = 512;
  std::vector<float> a(size_t(n * n), 0.5f), w(size_t(n * n), 0.25f), out(size_t(n * n));
  const double t = BestOf(repeats, [&] { ops::matmul_forward<float>(out.data(), a.data(), w.data(), nullptr, n, n, n); });
  return 2.0 * double(n) * double(n) * double(n) / t;
}

// {copy rate, read + write traffic} in bytes/s.
std::pair<double, double> Memcpy(int repeats) {
  const size_t bytes = size_t(256) << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  const double t = BestOf(std::max(2, repeats / 2), [&] { std::memcpy(dst.data(), src.data(), bytes); });
  return {double(bytes) / t, 2.0 * double(bytes) / t};
}

// One-way latency of a 1-byte message between two threads over a socket pair.
double SocketLatency() {
  int fd[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fd) != 0) return 0;
  const int rounds = 2000;
  std::thread echo([&] {
    char c;
    for (int i = 0; i < rounds; ++i)
      if (read(fd[1], &c, 1) != 1 || write(fd[1], &c, 1) != 1) return;
  });
  char c = 'x';
  const double t0 = NowSeconds();
  for (int i = 0; i < rounds; ++i)
    if (write(fd[0], &c, 1) != 1 || read(fd[0], &c, 1) != 1) break;
  const double t = NowSeconds() - t0;
  echo.join();
  close(fd[0]), close(fd[1]);
  return t / rounds / 2.0;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "CPU";
}

}  // namespace

int ProfileMachine(const std::string& out_path, int repeats) {
  SetComputeThreads(1);
  plan::ClusterSpec c;
  c.name = "local-cpu";
  c.device = "one core of " + CpuModel();
  c.nodes = 1;
  c.devices_per_node = int(std::max(1u, std::thread::hardware_concurrency()));
  c.devices = c.devices_per_node;
  c.peak_flops = MatmulFlops(repeats);
  std::fprintf(stderr, "matmul 512^3 on one core: %.1f GFLOP/s\n", c.peak_flops / 1e9);
  auto [copy, traffic] = Memcpy(repeats);
  std::fprintf(stderr, "memcpy: %.1f GB/s copied, %.1f GB/s traffic\n", copy / 1e9, traffic / 1e9);
  c.memory_bandwidth = traffic;
  c.intra_node_bandwidth = c.inter_node_bandwidth = copy;
  c.intra_node_latency = c.inter_node_latency = SocketLatency();
  std::fprintf(stderr, "socket ping-pong: %.1f us one way\n", c.intra_node_latency * 1e6);
  c.memory_bytes = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  c.compute_efficiency = c.comm_efficiency = 1.0;  // measured rates already are the achieved ones
  c.shared_compute = true;
  const std::string yaml = plan::ClusterSpecYaml(c);
  if (out_path.empty() || out_path == "-") {
    std::fputs(yaml.c_str(), stdout);
    return kExitOk;
  }
  std::ofstream out(out_path);
  out << yaml;
  if (!out) return std::fprintf(stderr, "braid profile: cannot write %s\n", out_path.c_str()), kExitRuntime;
  std::fprintf(stderr, "wrote %s\n", out_path.c_str());
  return kExitOk;
}

}  // namespace braid::cli
