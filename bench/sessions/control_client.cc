#include "control_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

namespace wa::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::unique_ptr<WasimProcess> WasimProcess::Start(const std::string& binary,
                                                  const std::vector<std::string>& extra_args,
                                                  std::string* error) {
  char tmpl[] = "/tmp/wa-sessions-wasim-XXXXXX";
  if (!mkdtemp(tmpl)) {
    *error = "mkdtemp failed";
    return nullptr;
  }
  std::unique_ptr<WasimProcess> w(new WasimProcess());
  w->data_dir_ = tmpl;
  int out[2];
  if (pipe(out) != 0) {
    *error = "pipe failed";
    return nullptr;
  }
  std::vector<std::string> args = {binary,     "--port",     "0",          "--control-port",
                                   "0",        "--data-dir", w->data_dir_, "--log-level",
                                   "warn"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  if (pid < 0) {
    close(out[0]);
    *error = "fork failed";
    return nullptr;
  }
  w->endpoints_.pid = pid;
  static const std::regex kChat(R"(^wasim chat endpoint (\S+))");
  static const std::regex kControl(R"(^wasim control API (\S+))");
  static const std::regex kRoot(R"(^wasim noise root public key ([0-9a-f]{64}))");
  static const std::regex kCert(R"(^wasim TLS certificate (\S+))");
  auto& e = w->endpoints_;
  std::string buffer;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (e.cert_path.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char chunk[512];
    ssize_t n = read(out[0], chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      std::smatch m;
      if (std::regex_search(line, m, kChat)) e.chat_url = m[1];
      if (std::regex_search(line, m, kControl)) e.control_url = m[1];
      if (std::regex_search(line, m, kRoot)) e.root_key_hex = m[1];
      if (std::regex_search(line, m, kCert)) e.cert_path = m[1];
    }
  }
  close(out[0]);  // wasim writes nothing more on stdout
  if (e.cert_path.empty() || e.chat_url.empty() || e.control_url.empty() ||
      e.root_key_hex.empty()) {
    *error = "wasim did not print its endpoints within 10 s";
    return nullptr;  // the destructor stops it
  }
  return w;
}

WasimProcess::~WasimProcess() {
  pid_t pid = endpoints_.pid;
  if (pid > 0) {
    kill(pid, SIGTERM);
    int status = 0;
    bool gone = false;
    for (int i = 0; i < 200 && !gone; ++i) {
      gone = waitpid(pid, &status, WNOHANG) == pid;
      if (!gone) usleep(50'000);
    }
    if (!gone) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
  }
  if (!data_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }
}

boost::json::value HttpResult::Json() const {
  boost::json::error_code ec;
  auto v = boost::json::parse(body, ec);
  return ec ? boost::json::value() : v;
}

ControlClient::ControlClient(asio::any_io_executor executor, const std::string& base_url)
    : executor_(std::move(executor)) {
  static const std::regex kUrl(R"(^http://([0-9.]+):(\d+)/?$)");
  std::smatch m;
  if (!std::regex_match(base_url, m, kUrl)) return;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(std::string(m[1]), ec);
  if (ec) return;
  endpoint_ = asio::ip::tcp::endpoint(address, static_cast<unsigned short>(std::stoi(m[2])));
  host_header_ = std::string(m[1]) + ":" + std::string(m[2]);
  valid_ = true;
}

asio::awaitable<HttpResult> ControlClient::Call(http::verb method, std::string target,
                                                std::string body, std::chrono::seconds timeout) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, host_header_);
  req.keep_alive(true);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
  }
  req.prepare_payload();
  // A kept-alive connection may have been closed by the server meanwhile (wasim's control API
  // closes them after 60 s idle): connections idle longer than kMaxIdle are not reused, and a
  // failure on a reused one is retried once on a new connection, never on another idle one.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<beast::tcp_stream> stream;
    bool reused = false;
    auto now = std::chrono::steady_clock::now();
    while (attempt == 0 && !stream && !idle_.empty()) {
      Idle entry = std::move(idle_.back());
      idle_.pop_back();
      if (now - entry.since < kMaxIdle) {
        stream = std::move(entry.stream);
        reused = true;
      }
    }
    if (!stream) {
      stream = std::make_unique<beast::tcp_stream>(executor_);
      stream->expires_after(timeout);
      auto [ec] = co_await stream->async_connect(endpoint_, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return HttpResult{0, {}, "connect: " + ec.message()};
    }
    stream->expires_after(timeout);
    auto [wec, wn] = co_await http::async_write(*stream, req, asio::as_tuple(asio::use_awaitable));
    (void)wn;
    if (wec) {
      if (reused) continue;
      co_return HttpResult{0, {}, "write: " + wec.message()};
    }
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    auto [rec, rn] =
        co_await http::async_read(*stream, buffer, res, asio::as_tuple(asio::use_awaitable));
    (void)rn;
    if (rec) {
      if (reused && (rec == http::error::end_of_stream || rec == asio::error::connection_reset)) {
        continue;
      }
      co_return HttpResult{0, {}, std::string(reused ? "read (kept-alive connection): " : "read: ") +
                                      rec.message()};
    }
    HttpResult out{static_cast<int>(res.result_int()), std::move(res.body()), {}};
    if (res.keep_alive()) {
      stream->expires_never();
      idle_.push_back(Idle{std::move(stream), std::chrono::steady_clock::now()});
    }
    co_return out;
  }
  co_return HttpResult{0, {}, "the kept-alive connection and a new one both failed"};
}

}  // namespace wa::bench
