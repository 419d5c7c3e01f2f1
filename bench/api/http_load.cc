// wa_http_load: drives one HTTP/1.1 endpoint with keep-alive connections and reports throughput
// and latency percentiles as JSON. Two modes: as fast as the server answers (closed loop: each
// connection sends its next request when the previous answer arrived), or at a fixed rate (open
// loop: request k is due at start + k/rate and its latency counts from that due time, so a
// server that falls behind is charged for the wait it caused, not just for its service time).
// `{n}` in the body is replaced by the request's number, so every request is distinct.
#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  std::string target;
  std::string method = "POST";
  std::vector<std::string> headers;
  std::string body;
  int connections = 32;
  double rate = 0;  // requests per second; 0: closed loop
  double duration_s = 10;
  double warmup_s = 2;
};

struct Shared {
  Options o;
  Clock::time_point start, measure_from, end;
  std::atomic<long long> next{0};  // request number (open loop: the slot)
  std::vector<double> latencies_ms;  // measured window only
  std::map<int, long long> statuses;
  long long errors = 0;
};

std::string Body(const std::string& tmpl, long long n) {
  std::string out;
  out.reserve(tmpl.size() + 12);
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl.compare(i, 3, "{n}") == 0) {
      out += std::to_string(n);
      i += 2;
    } else {
      out.push_back(tmpl[i]);
    }
  }
  return out;
}

asio::awaitable<void> Connection(Shared& s, tcp::endpoint at) {
  auto ex = co_await asio::this_coro::executor;
  beast::tcp_stream stream(ex);
  co_await stream.async_connect(at, asio::use_awaitable);
  stream.socket().set_option(tcp::no_delay(true));
  beast::flat_buffer buffer;
  asio::steady_timer timer(ex);
  auto interval = s.o.rate > 0 ? std::chrono::duration<double>(1.0 / s.o.rate) : std::chrono::duration<double>(0);
  for (;;) {
    long long n = s.next.fetch_add(1);
    Clock::time_point due = Clock::now();
    if (s.o.rate > 0) {
      due = s.start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(n));
      if (due >= s.end) break;
      if (due > Clock::now()) {
        timer.expires_at(due);
        co_await timer.async_wait(asio::use_awaitable);
      }
    } else if (due >= s.end) {
      break;
    }
    http::request<http::string_body> req{http::string_to_verb(s.o.method), s.o.target, 11};
    req.set(http::field::host, s.o.host);
    for (const auto& h : s.o.headers) {
      auto colon = h.find(':');
      std::string value = h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      req.set(h.substr(0, colon), Body(value, n));
    }
    if (!s.o.body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = Body(s.o.body, n);
    }
    req.prepare_payload();
    http::response<http::string_body> res;
    boost::system::error_code ec;
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) co_await http::async_read(stream, buffer, res, asio::redirect_error(asio::use_awaitable, ec));
    auto done = Clock::now();
    if (due < s.measure_from) continue;
    if (ec) {
      ++s.errors;
      break;
    }
    s.statuses[res.result_int()]++;
    s.latencies_ms.push_back(std::chrono::duration<double, std::milli>(done - due).count());
  }
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  Shared s;
  auto& o = s.o;
  std::string url, out;
  CLI::App app("wa_http_load: throughput and latency of one HTTP endpoint");
  app.add_option("--url", url, "http://host:port/path")->required();
  app.add_option("--method", o.method);
  app.add_option("--header", o.headers, "Name: value ({n} = request number)");
  app.add_option("--body", o.body, "request body ({n} = request number)");
  app.add_option("--connections", o.connections);
  app.add_option("--rate", o.rate, "requests per second (0: as fast as answered)");
  app.add_option("--duration", o.duration_s, "seconds measured");
  app.add_option("--warmup", o.warmup_s, "seconds before measuring");
  app.add_option("--json", out, "write the result here too");
  CLI11_PARSE(app, argc, argv);
  if (url.rfind("http://", 0) != 0) {
    std::cerr << "wa_http_load: --url must be http://host:port/path\n";
    return 2;
  }
  auto rest = url.substr(7);
  auto slash = rest.find('/');
  auto hostport = rest.substr(0, slash);
  o.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  o.host = hostport.substr(0, colon);
  o.port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);

  asio::io_context ioc(1);
  tcp::resolver resolver(ioc);
  auto at = *resolver.resolve(o.host, o.port).begin();
  s.start = Clock::now();
  s.measure_from = s.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup_s));
  s.end = s.measure_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_s));
  for (int i = 0; i < o.connections; ++i) {
    asio::co_spawn(ioc, Connection(s, at.endpoint()), [&s](std::exception_ptr e) {
      if (e) ++s.errors;
    });
  }
  ioc.run();
  auto measured = s.latencies_ms.size();
  double seconds = o.duration_s;
  boost::json::object statuses;
  for (const auto& [code, count] : s.statuses) statuses[std::to_string(code)] = count;
  boost::json::object result{
      {"mode", o.rate > 0 ? "fixed_rate" : "max"},
      {"rate_target", o.rate},
      {"connections", o.connections},
      {"duration_s", seconds},
      {"requests", measured},
      {"throughput_rps", static_cast<double>(measured) / seconds},
      {"statuses", statuses},
      {"errors", s.errors},
      {"latency_ms", {{"p50", Percentile(s.latencies_ms, 0.50)},
                      {"p90", Percentile(s.latencies_ms, 0.90)},
                      {"p99", Percentile(s.latencies_ms, 0.99)},
                      {"max", s.latencies_ms.empty() ? 0.0 : *std::max_element(s.latencies_ms.begin(), s.latencies_ms.end())}}}};
  std::string text = boost::json::serialize(result);
  std::cout << text << "\n";
  if (!out.empty()) std::ofstream(out) << text << "\n";
  return s.errors > 0 ? 1 : 0;
}
