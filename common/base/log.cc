#include "common/base/log.h"

#include <atomic>
#include <cstdarg>
#include <ctime>
#include <mutex>

namespace braid {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mu;
const char kTag[] = {'D', 'I', 'W', 'E'};
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

void LogLine(LogLevel level, const char* file, int line, const char* fmt, ...) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%H:%M:%S", &tm);
  const char* base = file;
  for (const char* p = file; *p; ++p)
    if (*p == '/') base = p + 1;
  std::lock_guard<std::mutex> lock(g_mu);
  std::fprintf(stderr, "%c %s %s:%d] ", kTag[static_cast<int>(level)], ts, base, line);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

}  // namespace braid
