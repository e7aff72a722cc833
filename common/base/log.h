// Minimal leveled logging to stderr: LOG_INFO("step %d loss %.4f", s, l).
#pragma once

#include <cstdio>

namespace braid {
enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
void LogLine(LogLevel level, const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
}  // namespace braid

#define LOG_DEBUG(...) ::braid::LogLine(::braid::LogLevel::kDebug, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_INFO(...) ::braid::LogLine(::braid::LogLevel::kInfo, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_WARN(...) ::braid::LogLine(::braid::LogLevel::kWarn, __FILE__, __LINE__, __VA_ARGS__)
#define LOG_ERROR(...) ::braid::LogLine(::braid::LogLevel::kError, __FILE__, __LINE__, __VA_ARGS__)
