#include "base/metrics/registry.h"

#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace base::metrics {

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1,     2.5,  5,     10};
  return buckets;
}

Registration::Registration(Registration&& other) noexcept
    : registry_(other.registry_), id_(other.id_) {
  other.registry_ = nullptr;
}

Registration& Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = other.registry_;
    id_ = other.id_;
    other.registry_ = nullptr;
  }
  return *this;
}

Registration::~Registration() { Reset(); }

void Registration::Reset() {
  if (registry_) registry_->Remove(id_);
  registry_ = nullptr;
}

Registry::Registry() = default;
Registry::~Registry() = default;

CounterFamily& Registry::Counter(const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry_);
}

GaugeFamily& Registry::Gauge(const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry_);
}

HistogramFamily& Registry::Histogram(const std::string& name, const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry_);
}

Registration Registry::AddCollector(std::string name, std::string help, Type type,
                                    std::function<std::vector<Sample>()> collect) {
  return AddCollector([name = std::move(name), help = std::move(help), type,
                       collect = std::move(collect)] {
    prometheus::MetricFamily family;
    family.name = name;
    family.help = help;
    family.type = type == Type::kCounter ? prometheus::MetricType::Counter
                                         : prometheus::MetricType::Gauge;
    for (auto& sample : collect()) {
      prometheus::ClientMetric m;
      for (auto& [k, v] : sample.labels) m.label.push_back({k, v});
      if (type == Type::kCounter) {
        m.counter.value = sample.value;
      } else {
        m.gauge.value = sample.value;
      }
      family.metric.push_back(std::move(m));
    }
    return std::vector<prometheus::MetricFamily>{std::move(family)};
  });
}

Registration Registry::AddCollector(std::function<std::vector<prometheus::MetricFamily>()> collect) {
  std::lock_guard lock(mu_);
  int id = next_id_++;
  collectors_[id] = std::make_shared<std::function<std::vector<prometheus::MetricFamily>()>>(
      std::move(collect));
  return Registration(this, id);
}

void Registry::Remove(int id) {
  std::lock_guard lock(mu_);
  collectors_.erase(id);
}

std::string Registry::Render() const {
  auto families = registry_.Collect();
  std::vector<std::shared_ptr<std::function<std::vector<prometheus::MetricFamily>()>>> now;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, c] : collectors_) now.push_back(c);
  }
  // Collectors run outside the lock: they may take their owners' locks.
  for (const auto& c : now) {
    for (auto& f : (*c)()) families.push_back(std::move(f));
  }
  // Series in label order, so that scrapes are stable (a family keeps them in a hash map).
  for (auto& f : families) {
    std::stable_sort(f.metric.begin(), f.metric.end(),
                     [](const prometheus::ClientMetric& a, const prometheus::ClientMetric& b) {
                       return a.label < b.label;
                     });
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

namespace {

prometheus::MetricFamily One(const char* name, const char* help, prometheus::MetricType type,
                             double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(m);
  return f;
}

// Seconds since the epoch at which this process started: its start in clock ticks after boot
// (/proc/self/stat, field 22) plus the boot time (/proc/stat btime).
double StartTimeSeconds() {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  unsigned long long start_ticks = 0;
  // Field 3 (state) is the first after the command; starttime is field 22.
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) start_ticks = std::strtoull(field.c_str(), nullptr, 10);
  }
  std::ifstream proc_stat("/proc/stat");
  unsigned long long boot = 0;
  while (std::getline(proc_stat, line)) {
    if (line.rfind("btime ", 0) == 0) boot = std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  long ticks = ::sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return 0;
  return static_cast<double>(boot) + static_cast<double>(start_ticks) / static_cast<double>(ticks);
}

}  // namespace

Registration AddProcessCollector(Registry& registry) {
  double start = StartTimeSeconds();
  return registry.AddCollector([start] {
    using prometheus::MetricType;
    std::vector<prometheus::MetricFamily> out;
    long page = ::sysconf(_SC_PAGESIZE);
    std::ifstream statm("/proc/self/statm");
    unsigned long long size_pages = 0, resident_pages = 0;
    statm >> size_pages >> resident_pages;
    out.push_back(One("process_resident_memory_bytes", "Resident memory size in bytes.",
                      MetricType::Gauge, double(resident_pages) * double(page)));
    out.push_back(One("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                      MetricType::Gauge, double(size_pages) * double(page)));
    std::error_code ec;
    std::size_t fds = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec)) {
      ++fds;
    }
    out.push_back(One("process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
                      double(fds)));
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      out.push_back(One("process_max_fds", "Maximum number of open file descriptors.",
                        MetricType::Gauge, double(limit.rlim_cur)));
    }
    out.push_back(One("process_start_time_seconds",
                      "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
                      start));
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    double cpu = double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                 double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    out.push_back(One("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                      MetricType::Counter, cpu));
    return out;
  });
}

}  // namespace base::metrics
