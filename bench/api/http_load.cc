// wa_http_load: drives one HTTP/1.1 endpoint with keep-alive connections and reports throughput
// and latency percentiles as JSON. Two modes: as fast as the server answers (closed loop: each
// connection sends its next request when the previous answer arrived), or at a fixed rate (open
// loop: request k is due at start + k/rate and its latency counts from that due time, so a
// server that falls behind is charged for the wait it caused, not just for its service time).
// `{n}` in the body and header values is replaced by the request's number, so every request is
// distinct.
//
// It shares the machine's cores with the server it measures, so it is kept cheap: one thread,
// epoll, non-blocking sockets, each request assembled from pieces formatted once at start into a
// per-connection buffer that is reused, and answers parsed only as far as the status code and
// Content-Length.
#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <boost/json.hpp>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

using Clock = std::chrono::steady_clock;

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

// A text with `{n}` placeholders, split once so that filling it in is appends only.
struct Template {
  std::vector<std::string> pieces;  // pieces.size() - 1 placeholders between them

  explicit Template(const std::string& text) {
    std::size_t from = 0;
    for (;;) {
      auto at = text.find("{n}", from);
      if (at == std::string::npos) break;
      pieces.push_back(text.substr(from, at - from));
      from = at + 3;
    }
    pieces.push_back(text.substr(from));
  }
  std::size_t Size(std::size_t digits) const {
    std::size_t n = (pieces.size() - 1) * digits;
    for (const auto& p : pieces) n += p.size();
    return n;
  }
  void AppendTo(std::string& out, std::string_view number) const {
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      if (i > 0) out.append(number);
      out.append(pieces[i]);
    }
  }
};

struct Conn {
  int fd = -1;
  bool connected = false;
  bool busy = false;           // a request is written or in flight
  std::string out;             // the request being written
  std::size_t written = 0;
  std::string in;              // bytes of the answer so far
  Clock::time_point due;       // when the request in flight was due
};

enum class Parsed { kNeedMore, kDone, kBad };

// Parses one answer at the front of `in`; on kDone sets *status and *length (bytes consumed).
Parsed ParseAnswer(const std::string& in, int* status, std::size_t* length) {
  auto end = in.find("\r\n\r\n");
  if (end == std::string::npos) return in.size() > 64 * 1024 ? Parsed::kBad : Parsed::kNeedMore;
  if (in.size() < 12 || in.compare(0, 5, "HTTP/") != 0) return Parsed::kBad;
  auto sp = in.find(' ');
  if (sp == std::string::npos || sp + 4 > end) return Parsed::kBad;
  auto [p, ec] = std::from_chars(in.data() + sp + 1, in.data() + sp + 4, *status);
  if (ec != std::errc()) return Parsed::kBad;
  std::size_t body = 0;
  std::size_t line = in.find("\r\n") + 2;
  while (line < end) {
    std::size_t next = in.find("\r\n", line);
    constexpr std::string_view kName = "content-length:";
    if (next - line > kName.size() &&
        std::equal(kName.begin(), kName.end(), in.begin() + static_cast<long>(line),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
      std::size_t v = line + kName.size();
      while (v < next && in[v] == ' ') ++v;
      std::from_chars(in.data() + v, in.data() + next, body);
    }
    line = next + 2;
  }
  if (in.size() < end + 4 + body) return Parsed::kNeedMore;
  *length = end + 4 + body;
  return Parsed::kDone;
}

class Load {
 public:
  explicit Load(Options o) : o_(std::move(o)), body_(o_.body) {
    std::string head = o_.method + " " + o_.target + " HTTP/1.1\r\nHost: " + o_.host + "\r\n";
    std::string extra;
    for (const auto& h : o_.headers) {
      auto colon = h.find(':');
      std::string value = colon == std::string::npos ? std::string() : h.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      extra += h.substr(0, colon) + ": " + value + "\r\n";
    }
    if (!o_.body.empty()) extra += "Content-Type: application/json\r\n";
    head_ = std::make_unique<Template>(head + extra + "Content-Length: ");
  }

  int Run(const sockaddr_storage& at, socklen_t at_len) {
    ep_ = epoll_create1(0);
    conns_.resize(static_cast<std::size_t>(o_.connections));
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      auto& c = conns_[i];
      c.fd = socket(at.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
      int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (connect(c.fd, reinterpret_cast<const sockaddr*>(&at), at_len) != 0 && errno != EINPROGRESS) {
        std::cerr << "wa_http_load: connect: " << std::strerror(errno) << "\n";
        return 1;
      }
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT;
      ev.data.u64 = i;
      epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    }
    start_ = Clock::now();
    measure_from_ = start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.warmup_s));
    end_ = measure_from_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.duration_s));
    // Open loop: every slot due before the end is sent, however late (a server that fell behind
    // pays for its backlog), but not forever: after this, answers still missing count as errors
    // and slots never sent are reported as not_sent.
    auto give_up = end_ + std::chrono::seconds(60);
    std::vector<epoll_event> events(conns_.size());
    for (;;) {
      auto now = Clock::now();
      StartDue(now);
      if (in_flight_ == 0 && (o_.rate > 0 ? DueOf(next_) >= end_ : now >= end_)) break;
      if (now >= give_up) {
        errors_ += in_flight_;
        if (o_.rate > 0) {
          while (DueOf(next_) < end_) {
            ++next_;
            ++not_sent_;
          }
        }
        break;
      }
      int timeout_ms = 100;
      if (o_.rate > 0 && idle_ > 0 && DueOf(next_) < end_) {
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(DueOf(next_) - now).count();
        timeout_ms = static_cast<int>(std::clamp<long long>(wait, 0, 100));
      }
      int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), timeout_ms);
      for (int k = 0; k < n; ++k) {
        auto i = static_cast<std::size_t>(events[static_cast<std::size_t>(k)].data.u64);
        auto flags = events[static_cast<std::size_t>(k)].events;
        if (!OnEvent(conns_[i], flags)) {
          Drop(conns_[i]);
        }
      }
    }
    close(ep_);
    for (auto& c : conns_) {
      if (c.fd >= 0) close(c.fd);
    }
    return 0;
  }

  boost::json::object Result() {
    // Open loop: a server that fell behind answers the window's requests after the window, so
    // the throughput is over the time it really took.
    double seconds = std::max(o_.duration_s, std::chrono::duration<double>(last_answer_ - measure_from_).count());
    boost::json::object statuses;
    for (const auto& [code, count] : statuses_) statuses[std::to_string(code)] = count;
    auto measured = latencies_ms_.size();
    return boost::json::object{
        {"mode", o_.rate > 0 ? "fixed_rate" : "max"},
        {"rate_target", o_.rate},
        {"connections", o_.connections},
        {"duration_s", seconds},
        {"requests", measured},
        {"answers_total", answers_total_},
        {"throughput_rps", static_cast<double>(measured) / seconds},
        {"statuses", statuses},
        {"errors", errors_},
        {"not_sent", not_sent_},
        {"latency_ms", {{"p50", Percentile(0.50)},
                        {"p90", Percentile(0.90)},
                        {"p99", Percentile(0.99)},
                        {"max", latencies_ms_.empty() ? 0.0 : *std::max_element(latencies_ms_.begin(), latencies_ms_.end())}}}};
  }

  long long errors() const { return errors_; }
  long long not_sent() const { return not_sent_; }

 private:
  Clock::time_point DueOf(long long n) const {
    return start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(n) / o_.rate));
  }

  // Gives due requests to idle connections: all idle ones in closed loop, in open loop one per
  // slot whose time has come.
  void StartDue(Clock::time_point now) {
    if (idle_ == 0 || (o_.rate <= 0 && now >= end_)) return;
    for (auto& c : conns_) {
      if (idle_ == 0) break;
      if (!c.connected || c.busy || c.fd < 0) continue;
      Clock::time_point due = now;
      if (o_.rate > 0) {
        due = DueOf(next_);
        if (due > now || due >= end_) break;
      }
      Send(c, next_++, due);
    }
  }

  void Send(Conn& c, long long n, Clock::time_point due) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    std::string_view number(digits, static_cast<std::size_t>(end - digits));
    c.out.clear();
    std::size_t body_size = body_.Size(number.size());
    char length[24];
    auto [lend, lec] = std::to_chars(length, length + sizeof length, body_size);
    head_->AppendTo(c.out, number);
    c.out.append(length, static_cast<std::size_t>(lend - length));
    c.out.append("\r\n\r\n");
    body_.AppendTo(c.out, number);
    c.written = 0;
    c.due = due;
    c.busy = true;
    --idle_;
    ++in_flight_;
    Write(c);
  }

  bool Write(Conn& c) {
    while (c.written < c.out.size()) {
      ssize_t w = ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
      if (w < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
      c.written += static_cast<std::size_t>(w);
    }
    return true;
  }

  bool OnEvent(Conn& c, std::uint32_t flags) {
    if (c.fd < 0) return true;
    if (!c.connected) {
      if (flags & (EPOLLERR | EPOLLHUP)) return false;
      if (!(flags & EPOLLOUT)) return true;
      c.connected = true;
      ++idle_;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = static_cast<std::uint64_t>(&c - conns_.data());
      epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
      StartDue(Clock::now());
      return true;
    }
    if (c.busy && c.written < c.out.size() && !Write(c)) return false;
    if (!(flags & (EPOLLIN | EPOLLERR | EPOLLHUP))) return true;
    char buf[16 * 1024];
    for (;;) {
      ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r == 0) return false;
      if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return false;
      }
      c.in.append(buf, static_cast<std::size_t>(r));
      if (static_cast<std::size_t>(r) < sizeof buf) break;
    }
    while (!c.in.empty()) {
      int status = 0;
      std::size_t length = 0;
      auto parsed = ParseAnswer(c.in, &status, &length);
      if (parsed == Parsed::kBad) return false;
      if (parsed == Parsed::kNeedMore) break;
      c.in.erase(0, length);
      if (!c.busy) return false;  // an answer nobody asked for
      auto done = Clock::now();
      c.busy = false;
      ++idle_;
      --in_flight_;
      ++answers_total_;
      if (c.due >= measure_from_) {
        last_answer_ = done;
        statuses_[status]++;
        latencies_ms_.push_back(std::chrono::duration<double, std::milli>(done - c.due).count());
      }
      StartDue(done);
    }
    return true;
  }

  void Drop(Conn& c) {
    if (c.busy) {
      --in_flight_;
      if (c.due >= measure_from_) ++errors_;
    } else if (c.connected) {
      --idle_;
    } else {
      ++errors_;
    }
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    c.busy = false;
    c.connected = false;
  }

  double Percentile(double p) {
    auto& v = latencies_ms_;
    if (v.empty()) return 0;
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
    return v[i];
  }

  Options o_;
  Template body_;
  std::unique_ptr<Template> head_;
  int ep_ = -1;
  std::vector<Conn> conns_;
  int idle_ = 0;
  long long in_flight_ = 0;
  long long next_ = 0;  // request number (open loop: the slot)
  Clock::time_point start_, measure_from_, end_, last_answer_;
  std::vector<double> latencies_ms_;  // measured window only
  std::map<int, long long> statuses_;
  long long errors_ = 0;
  long long answers_total_ = 0;
  long long not_sent_ = 0;  // open loop: slots due before the end still unsent at the give-up  // warm-up included (CPU per request in run_api_bench.py)
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
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
  if (url.rfind("http://", 0) != 0 || o.connections < 1) {
    std::cerr << "wa_http_load: --url must be http://host:port/path and --connections at least 1\n";
    return 2;
  }
  auto rest = url.substr(7);
  auto slash = rest.find('/');
  auto hostport = rest.substr(0, slash);
  o.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  o.host = hostport.substr(0, colon);
  o.port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);

  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(o.host.c_str(), o.port.c_str(), &hints, &found) != 0 || !found) {
    std::cerr << "wa_http_load: cannot resolve " << o.host << "\n";
    return 2;
  }
  sockaddr_storage at{};
  std::memcpy(&at, found->ai_addr, found->ai_addrlen);
  auto at_len = found->ai_addrlen;
  freeaddrinfo(found);

  Load load(o);
  if (int rc = load.Run(at, at_len); rc != 0) return rc;
  std::string text = boost::json::serialize(load.Result());
  std::cout << text << "\n";
  if (!out.empty()) std::ofstream(out) << text << "\n";
  return load.errors() > 0 || load.not_sent() > 0 ? 1 : 0;
}
