#include "common/metrics/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace braid {
namespace {

prometheus::MetricFamily One(const char* name, const char* help, prometheus::MetricType type, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  f.metric.push_back(m);
  return f;
}

// Seconds since the epoch at which the machine booted (/proc/stat btime), or -1.
double BootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(1 << 20, '\n');
  }
  return -1;
}

int OpenFds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (const dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  std::ifstream in("/proc/self/stat");
  std::string stat;
  if (!std::getline(in, stat)) return out;
  // Fields after the command name (which may hold spaces; it ends at the last ')').
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream rest(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; rest >> x;) f.push_back(x);
  // f[0] is field 3 (state): field k is f[k - 3].
  if (f.size() < 22) return out;
  const double tick = double(sysconf(_SC_CLK_TCK)), page = double(sysconf(_SC_PAGESIZE));
  const double utime = std::stod(f[14 - 3]), stime = std::stod(f[15 - 3]);
  const double start = std::stod(f[22 - 3]), vsize = std::stod(f[23 - 3]), rss = std::stod(f[24 - 3]);
  using prometheus::MetricType;
  out.push_back(One("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                    MetricType::Counter, (utime + stime) / tick));
  out.push_back(One("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge, rss * page));
  out.push_back(One("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge, vsize));
  if (const int fds = OpenFds(); fds >= 0)
    out.push_back(One("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, fds));
  if (const double boot = BootTime(); boot >= 0)
    out.push_back(One("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                      MetricType::Gauge, boot + start / tick));
  return out;
}

}  // namespace braid
