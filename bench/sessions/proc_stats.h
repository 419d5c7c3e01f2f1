// What the sessions benchmark reads about a process from /proc (memory and CPU time) and how it
// summarises latencies. Kept apart from the tool so that the parsing is unit-tested.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace wa::bench {

struct ProcSample {
  std::int64_t rss_kb = 0;  // VmRSS
  std::int64_t hwm_kb = 0;  // VmHWM (peak RSS)
  double cpu_seconds = 0;   // utime + stime
};

// VmRSS and VmHWM from the text of /proc/<pid>/status; nullopt when either is missing.
std::optional<ProcSample> ParseStatus(std::string_view status);
// utime + stime in clock ticks from the text of /proc/<pid>/stat (fields 14 and 15, counted
// after the parenthesised command name, which may itself hold spaces and parentheses).
std::optional<std::uint64_t> ParseStatCpuTicks(std::string_view stat);
// Both files of a live process; nullopt when it is gone or unreadable.
std::optional<ProcSample> ReadProc(pid_t pid);

// CPU use over a window as a percentage of one core.
double CpuPercent(const ProcSample& from, const ProcSample& to, double wall_seconds);

struct Distribution {
  std::size_t count = 0;
  double min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};
// Nearest-rank percentiles (the smallest value with at least p% of the values at or below it).
Distribution Summarize(std::vector<double> values);

}  // namespace wa::bench
