#include "wasim_process.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <regex>

namespace wa::itest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

boost::json::value HttpResponse::Json() const {
  boost::json::error_code ec;
  auto v = boost::json::parse(body, ec);
  return ec ? boost::json::value() : v;
}

HttpResponse HttpRequest(const std::string& method, const std::string& url, const std::string& body,
                         std::chrono::milliseconds timeout) {
  static const std::regex kUrl(R"(http://([^/:]+):(\d+)(/.*)?)");
  std::smatch m;
  if (!std::regex_match(url, m, kUrl)) return {};
  std::string host = m[1], port = m[2], target = m[3].matched ? std::string(m[3]) : "/";
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host + ":" + port);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  HttpResponse out;
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  asio::ip::tcp::resolver resolver(ioc);
  stream.expires_after(timeout);
  resolver.async_resolve(host, port, [&](beast::error_code ec, auto results) {
    if (ec) return;
    stream.async_connect(results, [&](beast::error_code ec2, auto) {
      if (ec2) return;
      http::async_write(stream, req, [&](beast::error_code ec3, std::size_t) {
        if (ec3) return;
        http::async_read(stream, buffer, res, [&](beast::error_code ec4, std::size_t) {
          if (ec4) return;
          out.status = res.result_int();
          out.body = res.body();
        });
      });
    });
  });
  ioc.run_for(timeout + std::chrono::seconds(1));
  return out;
}

std::unique_ptr<Wasim> Wasim::Start(std::string* error) {
  const char* bin = std::getenv("WA_WASIM_BIN");
  if (!bin || !*bin) {
    *error = "WA_WASIM_BIN must name the wasim binary";
    return nullptr;
  }
  char tmpl[] = "/tmp/wa-client-wasim-XXXXXX";
  if (!mkdtemp(tmpl)) {
    *error = "mkdtemp failed";
    return nullptr;
  }
  std::unique_ptr<Wasim> w(new Wasim());
  w->data_dir_ = tmpl;
  int out[2];
  if (pipe(out) != 0) {
    *error = "pipe failed";
    return nullptr;
  }
  std::string log_level = std::getenv("WASIM_LOG") ? std::getenv("WASIM_LOG") : "warn";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    execl(bin, bin, "--port", "0", "--control-port", "0", "--data-dir", tmpl, "--log-level",
          log_level.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  w->pid_ = pid;
  std::string buffer;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  static const std::regex kChat(R"(wasim chat endpoint (\S+))");
  static const std::regex kControl(R"(wasim control API (\S+))");
  static const std::regex kRoot(R"(wasim noise root public key ([0-9a-f]{64}))");
  static const std::regex kCert(R"(wasim TLS certificate (\S+))");
  while (w->cert_path_.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
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
      if (std::regex_search(line, m, kChat)) w->chat_url_ = m[1];
      if (std::regex_search(line, m, kControl)) w->control_url_ = m[1];
      if (std::regex_search(line, m, kRoot)) w->root_key_hex_ = m[1];
      if (std::regex_search(line, m, kCert)) w->cert_path_ = m[1];
    }
  }
  close(out[0]);  // wasim prints nothing more on stdout
  if (w->cert_path_.empty() || w->chat_url_.empty() || w->control_url_.empty()) {
    *error = "wasim did not print its endpoints within 10 s";
    return nullptr;  // the destructor stops the process
  }
  return w;
}

Wasim::~Wasim() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      usleep(50'000);
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  if (!data_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }
}

bool Wasim::alive() const { return pid_ > 0 && kill(pid_, 0) == 0; }

std::string Wasim::tls_chat_url() const {
  // The certificate names localhost, 127.0.0.1 and ::1; use the name so SNI is exercised.
  std::string url = chat_url_;
  url.replace(0, std::string("ws://127.0.0.1").size(), "wss://localhost");
  return url;
}

HttpResponse Wasim::Control(const std::string& method, const std::string& path,
                            const boost::json::value& body,
                            std::chrono::milliseconds timeout) const {
  return HttpRequest(method, control_url_ + path, body.is_null() ? "" : boost::json::serialize(body),
                     timeout);
}

}  // namespace wa::itest
