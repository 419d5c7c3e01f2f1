// Process-wide logging on spdlog: human-readable text or one JSON object per line.
#pragma once

#include <spdlog/spdlog.h>

#include <exception>
#include <string>
#include <string_view>

namespace base {

enum class LogFormat { kText, kJson };

// Installs the default logger (stderr, thread-safe). `level` is one of spdlog's names
// (trace, debug, info, warn, error, critical, off); call once, early in main.
void InitLogging(std::string_view level, LogFormat format);

// Flushes every sink; called on shutdown.
void FlushLogs();

// Appends `s` to `out` escaped as the body of a JSON string.
void AppendJsonEscaped(std::string& out, std::string_view s);

// What a caught exception says, for a log line: what() of a std::exception, else a fixed text.
std::string ExceptionText(std::exception_ptr e);

}  // namespace base
