// The HTTP/1.1 server: Boost.Beast on C++20 coroutines, one strand per connection, request ids,
// an access log, problem+json for routing errors, and a graceful drain: Shutdown() stops
// accepting, closes idle keep-alive connections, lets requests whose headers have arrived finish
// (answered with Connection: close), tells streaming connections (Context::takeover) to end, and
// returns when all connections are gone or the timeout passes.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/task_group.h"
#include "base/http/router.h"

namespace base::http {

// One answered request, for metrics. `route` is the matched pattern ("/v1/sessions/{id}"), empty
// when no route matched; never the raw path.
struct RequestRecord {
  std::string_view method;
  std::string_view route;
  unsigned status = 0;
  std::chrono::steady_clock::duration duration{};
};

struct ServerOptions {
  std::size_t max_body_bytes = 1 << 20;
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds request_timeout{30};
  // Called after each handler returns, on the connection's strand; must be cheap.
  std::function<void(const RequestRecord&)> on_request;
};

// Binds and listens; the error says why (address in use, permission denied, ...). Separate from
// the server so that a busy port is found before anything else starts.
base::Result<boost::asio::ip::tcp::acceptor> Bind(boost::asio::io_context& ioc,
                                                 const boost::asio::ip::tcp::endpoint& at);

class Server {
 public:
  Server(boost::asio::io_context& ioc, boost::asio::ip::tcp::acceptor acceptor, Router router,
         ServerOptions options);
  ~Server();

  // Starts the accept loop.
  void Start();
  // Graceful drain; true when every connection finished within the timeout.
  boost::asio::awaitable<bool> Shutdown(std::chrono::milliseconds timeout);

  bool draining() const { return draining_.load(std::memory_order_acquire); }

 private:
  struct Connection;
  boost::asio::awaitable<void> AcceptLoop();
  boost::asio::awaitable<void> Serve(std::shared_ptr<Connection> conn);
  boost::asio::awaitable<Response> Dispatch(Request& req, std::string request_id,
                                            std::string remote_ip, Takeover* takeover);

  boost::asio::io_context& ioc_;
  Router router_;
  ServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> draining_{false};
  base::TaskGroup tasks_{"http"};
  std::mutex mu_;
  std::set<std::shared_ptr<Connection>> connections_;  // guarded by mu_
};

}  // namespace base::http
