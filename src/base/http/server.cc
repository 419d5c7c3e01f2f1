#include "base/http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <random>

#include "base/http/problem.h"

namespace base::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Server::Connection {
  explicit Connection(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  // Touched only on the connection's strand:
  bool idle = true;       // waiting for the first byte of a request
  bool draining = false;  // Shutdown() reached this connection
  std::function<void()> drain_hook;  // a streaming handler's, while it owns the connection
};

namespace {

bool ValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

std::string NewRequestId() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id(16, '0');
  auto v = gen();
  for (auto& c : id) {
    c = kDigits[v & 0xF];
    v >>= 4;
  }
  return id;
}

// After refusing a request whose body is still arriving, read and discard what the client keeps
// sending (bounded in bytes and time) so that closing does not reset the connection before the
// client has read our answer.
asio::awaitable<void> LingeringClose(beast::tcp_stream& stream) {
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::array<char, 16 * 1024> scratch;
  std::size_t discarded = 0;
  stream.expires_after(std::chrono::seconds(2));
  while (!ec && discarded < (8u << 20)) {
    std::size_t n = 0;
    std::tie(ec, n) = co_await stream.async_read_some(asio::buffer(scratch), kTuple);
    discarded += n;
  }
}

}  // namespace

base::Result<tcp::acceptor> Bind(asio::io_context& ioc, const tcp::endpoint& at) {
  tcp::acceptor acceptor(asio::make_strand(ioc));
  boost::system::error_code ec;
  acceptor.open(at.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(at, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ec;
  return acceptor;
}

Server::Server(asio::io_context& ioc, tcp::acceptor acceptor, Router router, ServerOptions options)
    : ioc_(ioc),
      router_(std::move(router)),
      options_(options),
      acceptor_(std::move(acceptor)) {}

Server::~Server() = default;

void Server::Start() { tasks_.Spawn(acceptor_.get_executor(), AcceptLoop()); }

asio::awaitable<void> Server::AcceptLoop() {
  while (!draining()) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), kTuple);
    if (ec) {
      if (draining() || ec == asio::error::operation_aborted) break;
      spdlog::warn("http: accept failed: {}", ec.message());
      continue;
    }
    auto conn = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(mu_);
      connections_.insert(conn);
    }
    tasks_.Spawn(conn->stream.get_executor(), Serve(conn));
  }
}

asio::awaitable<void> Server::Serve(std::shared_ptr<Connection> conn) {
  beast::flat_buffer buffer;
  for (;;) {
    beast_http::request_parser<beast_http::string_body> parser;
    parser.body_limit(options_.max_body_bytes);
    parser.header_limit(16 * 1024);

    conn->idle = true;
    if (draining()) break;
    conn->stream.expires_after(options_.idle_timeout);
    auto [ec, n] = co_await beast_http::async_read_header(conn->stream, buffer, parser, kTuple);
    conn->idle = false;
    // body_limit can come with the header already (a Content-Length over the limit).
    if (ec && ec != beast_http::error::body_limit) break;  // closed, timed out or drained

    conn->stream.expires_after(options_.request_timeout);
    if (!ec && !parser.is_done()) {
      std::tie(ec, n) = co_await beast_http::async_read(conn->stream, buffer, parser, kTuple);
    }
    Request& req = parser.get();
    std::string request_id(req["X-Request-Id"]);
    if (!ValidRequestId(request_id)) request_id = NewRequestId();

    Response res;
    bool close_after = false;
    if (ec == beast_http::error::body_limit) {
      res = Problem(req, beast_http::status::payload_too_large, "body_too_large",
                    "the request body is larger than " + std::to_string(options_.max_body_bytes) +
                        " bytes");
      close_after = true;
    } else if (ec) {
      break;  // the peer went away mid-request or sent something that is not HTTP
    } else {
      boost::system::error_code peer_ec;
      auto peer = conn->stream.socket().remote_endpoint(peer_ec);
      // Named, not a temporary in the co_await expression (g++ 12 destroys those twice).
      std::string remote_ip = peer_ec ? std::string() : peer.address().to_string();
      Takeover takeover;
      res = co_await Dispatch(req, request_id, std::move(remote_ip), &takeover);
      if (takeover) {
        Streaming streaming{conn->stream, buffer, req, request_id,
                            [conn](std::function<void()> hook) {
                              if (conn->draining) {
                                hook();
                              } else {
                                conn->drain_hook = std::move(hook);
                              }
                            }};
        try {
          co_await takeover(streaming);
        } catch (const std::exception& e) {
          spdlog::error("http: stream of request {} threw: {}", request_id, e.what());
        }
        conn->drain_hook = nullptr;
        break;
      }
    }
    res.set("X-Request-Id", request_id);
    res.keep_alive(req.keep_alive() && !close_after && !draining());
    if (req.method() == beast_http::verb::head) res.body().clear();

    conn->stream.expires_after(options_.request_timeout);
    std::tie(ec, n) = co_await beast_http::async_write(conn->stream, res, kTuple);
    if (ec) break;
    if (close_after) {
      co_await LingeringClose(conn->stream);
      break;
    }
    if (!res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  conn->stream.close();
  std::lock_guard lock(mu_);
  connections_.erase(conn);
}

asio::awaitable<Response> Server::Dispatch(Request& req, std::string request_id,
                                           std::string remote_ip, Takeover* takeover) {
  auto started = std::chrono::steady_clock::now();
  std::string_view target = req.target();
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

  Response res;
  auto match = router_.Find(req.method(), path);
  if (match.handler) {
    Context ctx{req, request_id, path, query, std::move(match.params), draining(),
                std::move(remote_ip)};
    try {
      res = co_await (*match.handler)(ctx);
      if (ctx.takeover) *takeover = std::move(ctx.takeover);
    } catch (const std::exception& e) {
      spdlog::error("http: handler for {} {} threw: {} (request {})",
                    std::string(req.method_string()), match.pattern, e.what(), request_id);
      res = Problem(req, beast_http::status::internal_server_error, "internal_error",
                    "the server failed to handle this request; it has been logged with request id " +
                        request_id);
    }
  } else if (!match.allowed.empty()) {
    std::string allow;
    for (auto v : match.allowed) {
      if (!allow.empty()) allow += ", ";
      allow += std::string(beast_http::to_string(v));
    }
    res = Problem(req, beast_http::status::method_not_allowed, "method_not_allowed",
                  std::string(req.method_string()) + " is not allowed here; allowed: " + allow);
    res.set(beast_http::field::allow, allow);
  } else {
    res = Problem(req, beast_http::status::not_found, "not_found",
                  "no route for " + std::string(path));
  }
  auto elapsed = std::chrono::steady_clock::now() - started;
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  if (options_.on_request) {
    options_.on_request(RequestRecord{req.method_string(), match.pattern, res.result_int(), elapsed});
  }
  spdlog::info("http {} {} {} {:.3f}ms rid={}", std::string(req.method_string()),
               std::string(path), res.result_int(), micros / 1000.0, request_id);
  co_return res;
}

asio::awaitable<bool> Server::Shutdown(std::chrono::milliseconds timeout) {
  draining_.store(true, std::memory_order_release);
  co_await asio::dispatch(acceptor_.get_executor(), asio::use_awaitable);
  boost::system::error_code ignored;
  acceptor_.close(ignored);

  // Close connections that wait for a new request; busy ones close after their response.
  std::set<std::shared_ptr<Connection>> snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = connections_;
  }
  for (const auto& conn : snapshot) {
    asio::post(conn->stream.get_executor(), [conn] {
      conn->draining = true;
      if (conn->idle) conn->stream.cancel();
      if (conn->drain_hook) conn->drain_hook();
    });
  }
  co_return co_await tasks_.WaitEmpty(timeout);
}

}  // namespace base::http
