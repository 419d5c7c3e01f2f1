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

#include <limits>

#include "sim/connection.h"
#include "sim/media_http.h"
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
asio::awaitable<void> RunWebSocket(Stream stream, http::request<http::string_body> req,
                                   World& world, std::uint64_t id, std::string peer) {
  beast::get_lowest_layer(stream).expires_never();
  websocket::stream<Stream> ws(std::move(stream));
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws.binary(true);
  ws.read_message_max(std::size_t{32} << 20);
  auto [ec] = co_await ws.async_accept(req, kTuple);
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

// Writes a media host reply (media_http.h); the error of the write.
template <class Stream>
asio::awaitable<beast::error_code> WriteReply(Stream& stream, const MediaReply& reply,
                                              unsigned version, bool keep_alive, bool head) {
  auto fill = [&](auto& res) {
    res.result(reply.status);
    res.version(version);
    res.keep_alive(keep_alive);
    res.set(http::field::server, "wasim");
    if (!reply.content_type.empty()) res.set(http::field::content_type, reply.content_type);
    for (const auto& [name, value] : reply.headers) res.set(name, value);
  };
  if (head) {
    http::response<http::empty_body> res;
    fill(res);
    res.content_length(reply.body_size());
    auto [ec, n] = co_await http::async_write(stream, res, kTuple);
    co_return ec;
  }
  if (reply.blob) {
    http::response<http::span_body<const char>> res;
    fill(res);
    res.body() = {reply.blob->data() + reply.offset, reply.length};
    res.prepare_payload();
    auto [ec, n] = co_await http::async_write(stream, res, kTuple);
    co_return ec;
  }
  http::response<http::string_body> res;
  fill(res);
  res.body() = reply.text;
  res.prepare_payload();
  auto [ec, n] = co_await http::async_write(stream, res, kTuple);
  co_return ec;
}

// One client connection after TLS detection: HTTP requests until the WebSocket upgrade to
// /ws/chat (which hands the stream over) or the end of keep-alive. Everything else is the media
// host (media_http.h) or 404.
template <class Stream>
asio::awaitable<void> ServeHttp(Stream stream, beast::flat_buffer& buffer, World& world,
                                std::uint64_t id, std::string peer) {
  const std::uint64_t max_upload = world.media().options().max_upload_bytes;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    // No limit while reading the header: Beast would refuse a Content-Length over it right there,
    // before wasim can answer 413. The limit applies from the body on.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (ec) co_return;
    const auto& head = parser.get();
    std::string target(head.target());
    std::string_view path = std::string_view(target).substr(0, target.find('?'));
    unsigned version = head.version();
    if (websocket::is_upgrade(head) && path == "/ws/chat") {
      if (!parser.is_done()) co_return;  // an upgrade carries no body
      auto req = parser.release();  // (a named local: g++ 12 and temporaries in co_await)
      co_await RunWebSocket(std::move(stream), std::move(req), world, id, std::move(peer));
      co_return;
    }
    if (!IsMediaPath(path)) {
      MediaReply reply;
      reply.status = 404;
      reply.content_type = "text/plain";
      reply.text = "wasim: the chat endpoint is a WebSocket at /ws/chat; media lives at /mms/… "
                   "(uploads) and /v/… (downloads)\n";
      co_await WriteReply(stream, reply, version, false, head.method() == http::verb::head);
      co_return;
    }
    if (auto length = parser.content_length(); length && *length > max_upload) {
      world.media().CountRejected();
      // Read and drop the body first: closing on a client that is still sending resets the
      // connection before it reads the answer. Beyond a sane size, just close.
      constexpr std::uint64_t kMaxDrain = std::uint64_t{1} << 30;
      if (*length > kMaxDrain) co_return;
      std::uint64_t remaining = *length;
      std::uint64_t buffered = std::min<std::uint64_t>(buffer.size(), remaining);
      buffer.consume(static_cast<std::size_t>(buffered));
      remaining -= buffered;
      std::vector<char> scratch(64 * 1024);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
      while (remaining > 0) {
        auto piece = asio::buffer(scratch.data(),
                                  static_cast<std::size_t>(std::min<std::uint64_t>(
                                      scratch.size(), remaining)));
        auto [dec, got] = co_await stream.async_read_some(piece, kTuple);
        if (dec) co_return;
        remaining -= got;
      }
      MediaReply reply;
      reply.status = 413;
      reply.content_type = "application/json";
      reply.text = R"({"status":"error","code":"too_large","message":"uploads are limited to )" +
                   std::to_string(max_upload) + R"( bytes"})";
      co_await WriteReply(stream, reply, version, false, false);
      co_return;
    }
    parser.body_limit(max_upload);
    if (!parser.is_done() && beast::iequals(head[http::field::expect], "100-continue")) {
      // curl asks before sending large bodies; Baileys and whatsmeow send at once.
      http::response<http::empty_body> go_on{http::status::continue_, version};
      auto [cec, cn] = co_await http::async_write(stream, go_on, kTuple);
      if (cec) co_return;
    }
    if (!parser.is_done()) {
      // Uploads of tens of megabytes over loopback take well under this.
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(300));
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kTuple);
      if (ec == http::error::body_limit) {  // a chunked body over the limit
        world.media().CountRejected();
        MediaReply reply;
        reply.status = 413;
        reply.content_type = "application/json";
        reply.text = R"({"status":"error","code":"too_large","message":"upload over the limit"})";
        co_await WriteReply(stream, reply, version, false, false);
        co_return;
      }
      if (ec) co_return;
    }
    auto req = parser.release();
    bool keep_alive = req.keep_alive();
    bool is_head = req.method() == http::verb::head;
    std::string range(req[http::field::range]);
    MediaReply reply =
        HandleMediaRequest(world.media(),
                           {.method = req.method_string(),
                            .target = target,
                            .range = range,
                            .body = std::move(req.body())},
                           std::chrono::steady_clock::now());
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(300));
    auto wec = co_await WriteReply(stream, reply, version, keep_alive, is_head);
    if (wec || !keep_alive) co_return;
  }
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
    co_await ServeHttp(std::move(tls), buffer, world_, id, peer);
  } else {
    co_await ServeHttp(std::move(stream), buffer, world_, id, peer);
  }
}

}  // namespace sim
