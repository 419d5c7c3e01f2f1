#include "sim/chat_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <spdlog/spdlog.h>

#include "sim/connection.h"
#include "sim/world.h"

namespace sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

template <class Ws>
asio::awaitable<void> ReadLoop(Ws& ws, std::shared_ptr<Connection> conn) {
  beast::flat_buffer buffer;
  for (;;) {
    auto [ec, n] = co_await ws.async_read(buffer, kTuple);
    if (ec) co_return;
    auto data = buffer.cdata();
    bool ok = conn->OnBytes({static_cast<const std::uint8_t*>(data.data()), data.size()});
    buffer.consume(n);
    if (!ok) {
      conn->Abort();
      co_return;
    }
  }
}

template <class Ws>
asio::awaitable<void> WriteLoop(Ws& ws, std::shared_ptr<Connection> conn) {
  asio::steady_timer delay(co_await asio::this_coro::executor);
  for (;;) {
    co_await conn->WaitForOutput();
    while (!conn->outgoing().empty()) {
      if (auto wait = conn->outgoing().front().delay; wait.count() > 0) {
        // An injected delay; a Drop or Abort meanwhile empties the queue.
        delay.expires_after(wait);
        co_await delay.async_wait(kTuple);
        if (conn->outgoing().empty()) break;
        conn->outgoing().front().delay = {};
      }
      // Out of the queue before writing: an Abort or Drop clears the queue meanwhile.
      auto frame = std::move(conn->outgoing().front());
      conn->outgoing().pop_front();
      auto [ec, n] = co_await ws.async_write(asio::buffer(frame.bytes), kTuple);
      if (ec) co_return;
    }
    if (conn->drop_requested()) co_return;  // no close frame: the socket just goes away
    if (conn->close_requested()) {
      auto [ec] = co_await ws.async_close(websocket::close_code::normal, kTuple);
      (void)ec;
      co_return;
    }
  }
}

template <class Stream>
asio::awaitable<void> RunWebSocket(Stream stream, beast::flat_buffer& buffer, World& world,
                                   std::uint64_t id, std::string peer) {
  http::request<http::string_body> req;
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
  auto [ec, n] = co_await http::async_read(stream, buffer, req, kTuple);
  if (ec) co_return;
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (!websocket::is_upgrade(req) || path != "/ws/chat") {
    http::response<http::string_body> res{http::status::not_found, req.version()};
    res.set(http::field::content_type, "text/plain");
    res.body() = "wasim: the chat endpoint is a WebSocket at /ws/chat\n";
    res.prepare_payload();
    co_await http::async_write(stream, res, kTuple);
    co_return;
  }
  beast::get_lowest_layer(stream).expires_never();
  websocket::stream<Stream> ws(std::move(stream));
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws.binary(true);
  ws.read_message_max(std::size_t{32} << 20);
  std::tie(ec) = co_await ws.async_accept(req, kTuple);
  if (ec) co_return;

  auto conn = std::make_shared<Connection>(world, co_await asio::this_coro::executor, id, peer);
  world.OnOpened(conn);
  co_await (ReadLoop(ws, conn) || WriteLoop(ws, conn));
  world.OnClosed(*conn);
  beast::error_code ignored;
  if (conn->drop_requested()) {
    // A dropped connection ends with a reset, as when a network path fails.
    beast::get_lowest_layer(ws).socket().set_option(asio::socket_base::linger(true, 0), ignored);
  } else {
    beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
  }
  beast::get_lowest_layer(ws).close();
}

}  // namespace

ChatServer::ChatServer(asio::io_context& ioc, World& world, asio::ssl::context& tls,
                       tcp::acceptor acceptor)
    : ioc_(ioc), world_(world), tls_(tls), acceptor_(std::move(acceptor)) {}

void ChatServer::Start() { tasks_.Spawn(acceptor_.get_executor(), AcceptLoop()); }

void ChatServer::Stop() {
  beast::error_code ignored;
  acceptor_.close(ignored);
}

asio::awaitable<void> ChatServer::AcceptLoop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      spdlog::warn("chat: accept failed: {}", ec.message());
      continue;
    }
    tasks_.Spawn(ioc_.get_executor(), Serve(std::move(socket)));
  }
}

asio::awaitable<void> ChatServer::Serve(tcp::socket socket) {
  if (world_.faults().Refusing(std::chrono::steady_clock::now())) {
    // Injected outage: reset the connection before TLS or HTTP (the client sees ECONNRESET).
    world_.stats().connections_refused++;
    beast::error_code ignored;
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
    co_return;
  }
  std::uint64_t id = next_id_++;
  beast::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  std::string peer = ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(30));
  beast::flat_buffer buffer;
  auto [dec, is_tls] = co_await beast::async_detect_ssl(stream, buffer, kTuple);
  if (dec) co_return;
  if (is_tls) {
    beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), tls_);
    auto [hec, used] = co_await tls.async_handshake(asio::ssl::stream_base::server, buffer.data(),
                                                    kTuple);
    if (hec) {
      spdlog::info("chat {}: TLS handshake failed: {}", peer, hec.message());
      co_return;
    }
    buffer.consume(used);
    co_await RunWebSocket(std::move(tls), buffer, world_, id, peer);
  } else {
    co_await RunWebSocket(std::move(stream), buffer, world_, id, peer);
  }
}

}  // namespace sim
