#include "proc_stats.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>

namespace wa::bench {
namespace {

// The number of kB on the line "<key>:   12345 kB".
std::optional<std::int64_t> StatusField(std::string_view status, std::string_view key) {
  std::size_t at = 0;
  while (at < status.size()) {
    std::size_t end = status.find('\n', at);
    if (end == std::string_view::npos) end = status.size();
    std::string_view line = status.substr(at, end - at);
    at = end + 1;
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':') {
      continue;
    }
    std::string_view rest = line.substr(key.size() + 1);
    std::size_t digits = rest.find_first_of("0123456789");
    if (digits == std::string_view::npos) return std::nullopt;
    std::int64_t value = 0;
    auto [p, ec] = std::from_chars(rest.data() + digits, rest.data() + rest.size(), value);
    if (ec != std::errc()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::optional<ProcSample> ParseStatus(std::string_view status) {
  auto rss = StatusField(status, "VmRSS");
  auto hwm = StatusField(status, "VmHWM");
  if (!rss || !hwm) return std::nullopt;
  ProcSample s;
  s.rss_kb = *rss;
  s.hwm_kb = *hwm;
  return s;
}

std::optional<std::uint64_t> ParseStatCpuTicks(std::string_view stat) {
  std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  // After ") " come field 3 (state), 4, ... ; utime is field 14, stime field 15.
  std::string_view rest = stat.substr(close + 1);
  int field = 2;
  std::uint64_t sum = 0;
  int found = 0;
  std::size_t i = 0;
  while (i < rest.size() && found < 2) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    if (i >= rest.size()) break;
    std::size_t end = rest.find(' ', i);
    if (end == std::string_view::npos) end = rest.size();
    ++field;
    if (field == 14 || field == 15) {
      std::uint64_t v = 0;
      auto [p, ec] = std::from_chars(rest.data() + i, rest.data() + end, v);
      if (ec != std::errc() || p != rest.data() + end) return std::nullopt;
      sum += v;
      ++found;
    }
    i = end;
  }
  if (found != 2) return std::nullopt;
  return sum;
}

std::optional<ProcSample> ReadProc(pid_t pid) {
  std::string base = "/proc/" + std::to_string(pid);
  auto status = ReadFile(base + "/status");
  auto stat = ReadFile(base + "/stat");
  if (!status || !stat) return std::nullopt;
  auto sample = ParseStatus(*status);
  auto ticks = ParseStatCpuTicks(*stat);
  if (!sample || !ticks) return std::nullopt;
  sample->cpu_seconds = static_cast<double>(*ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return sample;
}

double CpuPercent(const ProcSample& from, const ProcSample& to, double wall_seconds) {
  if (wall_seconds <= 0) return 0;
  return 100.0 * (to.cpu_seconds - from.cpu_seconds) / wall_seconds;
}

Distribution Summarize(std::vector<double> values) {
  Distribution d;
  d.count = values.size();
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  auto rank = [&](double p) {
    auto k = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(k, 1, values.size()) - 1];
  };
  d.min = values.front();
  d.max = values.back();
  d.p50 = rank(50);
  d.p90 = rank(90);
  d.p99 = rank(99);
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  return d;
}

}  // namespace wa::bench
