// Monotonic wall clock helpers.
#pragma once

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace braid {
inline double NowSeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Wall clock (Unix seconds): comparable across processes, for timestamps and
// cross-process timelines.
inline double UnixNowSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// "1h02m", "3m07s", "42s" (negative: "?"): ETAs and durations in progress lines.
inline std::string FormatDuration(double s) {
  char buf[32];
  if (s < 0) return "?";
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", int(s / 3600), int(s / 60) % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s / 60), int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%ds", int(s));
  return buf;
}

// Local time as "YYYYmmdd-HHMMSS": the suffix of job ids and run directories.
inline std::string LocalTimestamp(double unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

class Stopwatch {
 public:
  Stopwatch() : start_(NowSeconds()) {}
  double Seconds() const { return NowSeconds() - start_; }
  void Reset() { start_ = NowSeconds(); }

 private:
  double start_;
};
}  // namespace braid
