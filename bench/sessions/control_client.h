// The sessions benchmark's view of wasim: launching a wasim process (or adopting a running one)
// and an asynchronous HTTP/1.1 client for its control API that keeps connections alive, so that
// thousands of phone creations and scans cost requests rather than TCP handshakes.
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace wa::bench {

// Where a wasim listens and what a client must trust.
struct WasimEndpoints {
  std::string chat_url;     // ws://127.0.0.1:PORT/ws/chat
  std::string control_url;  // http://127.0.0.1:PORT
  std::string root_key_hex;
  std::string cert_path;
  pid_t pid = -1;  // for /proc; -1 when unknown
};

// A wasim started by this process: stopped (SIGTERM, then SIGKILL) and its data dir removed on
// destruction.
class WasimProcess {
 public:
  // nullptr with the reason in *error when it does not print its endpoints within 10 s.
  static std::unique_ptr<WasimProcess> Start(const std::string& binary,
                                             const std::vector<std::string>& extra_args,
                                             std::string* error);
  ~WasimProcess();
  const WasimEndpoints& endpoints() const { return endpoints_; }

 private:
  WasimProcess() = default;
  WasimEndpoints endpoints_;
  std::string data_dir_;
};

struct HttpResult {
  int status = 0;  // 0: no answer (connect, write or read failed or timed out)
  std::string body;
  std::string error;  // status 0: which step failed and why
  boost::json::value Json() const;  // null when the body is not JSON
};

// Not thread-safe: used from one thread (the benchmark's driver).
class ControlClient {
 public:
  // `base_url` is "http://host:port" with a numeric host.
  ControlClient(boost::asio::any_io_executor executor, const std::string& base_url);

  boost::asio::awaitable<HttpResult> Call(boost::beast::http::verb method, std::string target,
                                          std::string body = {},
                                          std::chrono::seconds timeout = std::chrono::seconds(120));
  bool valid() const { return valid_; }
  std::size_t idle_connections() const { return idle_.size(); }

 private:
  boost::asio::any_io_executor executor_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::string host_header_;
  bool valid_ = false;
  struct Idle {
    std::unique_ptr<boost::beast::tcp_stream> stream;
    std::chrono::steady_clock::time_point since;
  };
  // Well under the server's idle limit, so that a reused connection is rarely one it just closed.
  static constexpr std::chrono::seconds kMaxIdle{20};
  std::vector<Idle> idle_;
};

}  // namespace wa::bench
