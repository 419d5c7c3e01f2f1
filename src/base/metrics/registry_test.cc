#include "base/metrics/registry.h"

#include <gtest/gtest.h>

#include <cstring>
#include <ctime>
#include <thread>

namespace base::metrics {
namespace {

TEST(Registry, RendersTheTextFormat) {
  Registry r;
  auto& jobs = r.Counter("jobs_total", "Jobs done.");
  jobs.Add({{"queue", "a"}}).Increment(3);
  // Backslash, double quote and newline are escaped in label values.
  jobs.Add({{"queue", "b\\\"c\"\nd"}}).Increment();
  r.Gauge("depth", "Items waiting.").Add({}).Set(2.5);
  auto& latency = r.Histogram("latency_seconds", "How long.");
  auto& h = latency.Add({{"route", "/x/{id}"}}, prometheus::Histogram::BucketBoundaries{0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(7);
  EXPECT_EQ(r.Render(),
            "# HELP jobs_total Jobs done.\n"
            "# TYPE jobs_total counter\n"
            "jobs_total{queue=\"a\"} 3\n"
            "jobs_total{queue=\"b\\\\\\\"c\\\"\\nd\"} 1\n"
            "# HELP depth Items waiting.\n"
            "# TYPE depth gauge\n"
            "depth 2.5\n"
            "# HELP latency_seconds How long.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_count{route=\"/x/{id}\"} 3\n"
            "latency_seconds_sum{route=\"/x/{id}\"} 7.55\n"
            "latency_seconds_bucket{route=\"/x/{id}\",le=\"0.1\"} 1\n"
            "latency_seconds_bucket{route=\"/x/{id}\",le=\"1\"} 2\n"
            "latency_seconds_bucket{route=\"/x/{id}\",le=\"+Inf\"} 3\n");
}

TEST(Registry, CollectorsRunAtScrapeTimeUntilTheirRegistrationEnds) {
  Registry r;
  int calls = 0;
  std::string state = "connected";
  {
    auto reg = r.AddCollector("sessions", "Sessions by status.", Type::kGauge, [&] {
      ++calls;
      return std::vector<Sample>{{{{"status", state}}, 4}, {{{"status", "qr"}}, 1}};
    });
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(r.Render(),
              "# HELP sessions Sessions by status.\n"
              "# TYPE sessions gauge\n"
              "sessions{status=\"connected\"} 4\n"
              "sessions{status=\"qr\"} 1\n");
    state = "stopped";
    EXPECT_NE(r.Render().find("sessions{status=\"stopped\"} 4\n"), std::string::npos);
    EXPECT_EQ(calls, 2);
  }
  EXPECT_EQ(r.Render(), "");
  EXPECT_EQ(calls, 2);
}

TEST(Registry, SameNameGivesTheSameFamily) {
  Registry r;
  r.Counter("hits_total", "Hits.").Add({{"k", "v"}}).Increment();
  r.Counter("hits_total", "Hits.").Add({{"k", "v"}}).Increment();
  EXPECT_NE(r.Render().find("hits_total{k=\"v\"} 2\n"), std::string::npos) << r.Render();
}

TEST(Registry, CountsFromManyThreads) {
  Registry r;
  auto& c = r.Counter("n_total", "N.").Add({});
  auto& h = r.Histogram("d_seconds", "D.").Add({}, LatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Increment();
        h.Observe(0.003);
      }
    });
  }
  for (auto& t : threads) t.join();
  auto text = r.Render();
  EXPECT_NE(text.find("n_total 40000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{le=\"0.0025\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{le=\"0.005\"} 40000\n"), std::string::npos) << text;
}

TEST(Registry, ProcessMetrics) {
  Registry r;
  auto reg = AddProcessCollector(r);
  auto text = r.Render();
  for (const char* name : {"process_resident_memory_bytes ", "process_open_fds ",
                           "process_start_time_seconds ", "process_cpu_seconds_total ",
                           "process_max_fds ", "process_virtual_memory_bytes "}) {
    auto at = text.find(std::string("\n") + name);
    ASSERT_NE(at, std::string::npos) << name << "\n" << text;
    double value = std::strtod(text.c_str() + at + 1 + std::strlen(name), nullptr);
    EXPECT_GT(value, 0) << name;
  }
  auto start_at = text.find("\nprocess_start_time_seconds ");
  double start = std::strtod(text.c_str() + start_at + 28, nullptr);
  double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600);  // this test binary started within the hour
}

}  // namespace
}  // namespace base::metrics
