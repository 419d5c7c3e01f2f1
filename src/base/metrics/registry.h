// The process's metrics, served as Prometheus text (exposition format 0.0.4) on /metrics.
// Metric types and the text serializer come from prometheus-cpp (Debian's prometheus-cpp-dev;
// docs/design/metrics.md says why): counters, gauges and histograms are families of labelled
// series; a series is created once (Family::Add) and then updated with atomics or a per-series
// lock, so hot paths should keep the reference Add returned. Collectors are callbacks run at
// scrape time, for values that live elsewhere (sessions by status, queue depths): nothing is
// pushed, and a collector costs nothing between scrapes.
//
// There is no process-wide registry: wagate makes one in Serve() and hands it to whoever exposes
// metrics (tests make their own). Thread-safe throughout.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace base::metrics {

using Labels = std::map<std::string, std::string>;
using CounterFamily = prometheus::Family<prometheus::Counter>;
using GaugeFamily = prometheus::Family<prometheus::Gauge>;
using HistogramFamily = prometheus::Family<prometheus::Histogram>;

// One series of a collector's answer.
struct Sample {
  Labels labels;
  double value = 0;
};

enum class Type { kCounter, kGauge };

inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Request latencies in seconds, 1 ms to 10 s.
const std::vector<double>& LatencyBuckets();

class Registry;

// Keeps a collector registered; destroying it (or Reset) removes the collector, so an object
// that registered a callback over itself unregisters before it goes away.
class Registration {
 public:
  Registration() = default;
  Registration(Registration&& other) noexcept;
  Registration& operator=(Registration&& other) noexcept;
  ~Registration();
  void Reset();

 private:
  friend class Registry;
  Registration(Registry* registry, int id) : registry_(registry), id_(id) {}
  Registry* registry_ = nullptr;
  int id_ = 0;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // A name registered twice gives the same family (the help of the first wins).
  CounterFamily& Counter(const std::string& name, const std::string& help);
  GaugeFamily& Gauge(const std::string& name, const std::string& help);
  HistogramFamily& Histogram(const std::string& name, const std::string& help);

  // One family computed at each scrape.
  [[nodiscard]] Registration AddCollector(std::string name, std::string help, Type type,
                                          std::function<std::vector<Sample>()> collect);
  // Any number of families at each scrape (process metrics).
  [[nodiscard]] Registration AddCollector(
      std::function<std::vector<prometheus::MetricFamily>()> collect);

  // Everything, in the text exposition format 0.0.4.
  std::string Render() const;

 private:
  friend class Registration;
  void Remove(int id);

  prometheus::Registry registry_;
  mutable std::mutex mu_;
  int next_id_ = 1;
  std::map<int, std::shared_ptr<std::function<std::vector<prometheus::MetricFamily>()>>>
      collectors_;  // mu_
};

// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds, process_start_time_seconds and process_cpu_seconds_total, read from /proc.
[[nodiscard]] Registration AddProcessCollector(Registry& registry);

}  // namespace base::metrics
