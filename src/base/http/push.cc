#include "base/http/push.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>

namespace base::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

std::string CleanField(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c != '\r' && c != '\n' && c != '\0') out.push_back(c);
  }
  return out;
}

}  // namespace

std::string SseFrame(const PushMessage& m) {
  std::string out;
  out.reserve(m.data.size() + m.id.size() + m.event.size() + 32);
  if (!m.id.empty()) out += "id: " + CleanField(m.id) + "\n";
  if (!m.event.empty()) out += "event: " + CleanField(m.event) + "\n";
  // Every line of the data is its own `data:` field; the client joins them with "\n".
  std::string_view data = m.data;
  for (;;) {
    auto nl = data.find_first_of("\r\n");
    out += "data: ";
    out += data.substr(0, nl);
    out += "\n";
    if (nl == std::string_view::npos) break;
    std::size_t skip = (data[nl] == '\r' && nl + 1 < data.size() && data[nl + 1] == '\n') ? 2 : 1;
    data = data.substr(nl + skip);
  }
  out += "\n";
  return out;
}

std::string SseComment(std::string_view text) { return ": " + CleanField(text) + "\n\n"; }

bool IsWebSocketUpgrade(const Request& request) {
  return websocket::is_upgrade(request);
}

struct Push::State : std::enable_shared_from_this<Push::State> {
  State(Streaming& s, PushOptions o)
      : stream(s.stream), options(o), executor(s.stream.get_executor()), wake(executor),
        reader_done(executor) {}

  beast::tcp_stream& stream;
  PushOptions options;
  beast::tcp_stream::executor_type executor;  // the connection's strand
  Kind kind = Kind::kSse;
  bool chunked = false;
  std::unique_ptr<websocket::stream<beast::tcp_stream&>> ws;
  // On the strand only:
  asio::steady_timer wake;
  asio::steady_timer reader_done;
  bool reader_running = false;
  bool peer_gone = false;
  bool draining = false;
  bool failed = false;
  bool closed = false;
  std::chrono::steady_clock::time_point next_heartbeat;
  // From any thread:
  std::atomic<bool> pending_wake{false};

  asio::awaitable<base::error_code> WriteRaw(std::string bytes) {
    stream.expires_after(options.write_timeout);
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(bytes), kTuple);
    stream.expires_never();
    if (ec) failed = true;
    co_return ec;
  }

  asio::awaitable<base::error_code> WriteSse(const std::string& payload) {
    if (!chunked) co_return co_await WriteRaw(payload);
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
    std::string chunk = size;
    chunk += payload;
    chunk += "\r\n";
    co_return co_await WriteRaw(std::move(chunk));
  }

  // Watches the peer: SSE clients send nothing, so any end of the read is the peer leaving; a
  // WebSocket read also answers pings and the closing handshake.
  static asio::awaitable<void> Read(std::shared_ptr<State> self) {
    if (self->ws) {
      beast::flat_buffer buffer;
      for (;;) {
        buffer.clear();
        auto [ec, n] = co_await self->ws->async_read(buffer, kTuple);
        if (ec) break;  // what the client sends is ignored
      }
    } else {
      std::array<char, 512> scratch;
      for (;;) {
        auto [ec, n] = co_await self->stream.socket().async_read_some(asio::buffer(scratch), kTuple);
        if (ec) break;
      }
    }
  }

  void StartReader() {
    reader_running = true;
    reader_done.expires_at(std::chrono::steady_clock::time_point::max());
    asio::co_spawn(executor, Read(shared_from_this()),
                   [self = shared_from_this()](std::exception_ptr e) {
                     if (e) spdlog::error("http push: reader ended with an exception");
                     self->reader_running = false;
                     self->peer_gone = true;
                     self->wake.cancel();
                     self->reader_done.cancel();
                   });
  }

  asio::awaitable<void> JoinReader(std::chrono::milliseconds bound) {
    if (!reader_running) co_return;
    reader_done.expires_after(bound);
    co_await reader_done.async_wait(kTuple);
    if (!reader_running) co_return;
    // The peer did not finish in time: closing the socket ends the read.
    boost::system::error_code ignored;
    stream.socket().close(ignored);
    reader_done.expires_at(std::chrono::steady_clock::time_point::max());
    while (reader_running) co_await reader_done.async_wait(kTuple);
  }
};

Push::Push(std::shared_ptr<State> state) : state_(std::move(state)) {}

Push::~Push() = default;

Push::Kind Push::kind() const { return state_->kind; }

asio::awaitable<base::Result<std::unique_ptr<Push>>> Push::Open(Streaming& streaming,
                                                               PushOptions options) {
  auto state = std::make_shared<State>(streaming, options);
  const Request& req = streaming.request;
  if (IsWebSocketUpgrade(req)) {
    state->kind = Kind::kWebSocket;
    streaming.stream.expires_never();  // the WebSocket keeps its own timeouts
    state->ws = std::make_unique<websocket::stream<beast::tcp_stream&>>(streaming.stream);
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = options.close_timeout;
    // Our pings go out every heartbeat: a peer silent for two of them is gone.
    timeouts.idle_timeout = 2 * options.heartbeat + options.write_timeout;
    timeouts.keep_alive_pings = false;
    state->ws->set_option(timeouts);
    state->ws->read_message_max(64 * 1024);
    std::string request_id = streaming.request_id;
    state->ws->set_option(websocket::stream_base::decorator(
        [request_id](websocket::response_type& res) { res.set("X-Request-Id", request_id); }));
    state->ws->text(true);
    auto [ec] = co_await state->ws->async_accept(req, kTuple);
    if (ec) co_return ec;
  } else {
    state->kind = Kind::kSse;
    state->chunked = req.version() >= 11;
    Response head{beast_http::status::ok, req.version()};
    head.set(beast_http::field::content_type, "text/event-stream");
    head.set(beast_http::field::cache_control, "no-store");
    head.set("X-Request-Id", streaming.request_id);
    head.set("X-Accel-Buffering", "no");  // proxies must not hold events back
    head.keep_alive(false);
    if (state->chunked) head.chunked(true);
    // Serialize the head only: the body is written as the events come.
    std::string bytes;
    bytes.reserve(256);
    bytes += "HTTP/1." + std::to_string(req.version() % 10) + " 200 OK\r\n";
    for (const auto& field : head) {
      bytes += std::string(field.name_string()) + ": " + std::string(field.value()) + "\r\n";
    }
    bytes += "\r\n";
    if (auto ec = co_await state->WriteRaw(std::move(bytes))) co_return ec;
  }
  state->next_heartbeat = std::chrono::steady_clock::now() + options.heartbeat;
  state->StartReader();
  std::weak_ptr<State> weak = state;
  streaming.on_drain([weak] {
    if (auto s = weak.lock()) {
      s->draining = true;
      s->wake.cancel();
    }
  });
  co_return std::unique_ptr<Push>(new Push(std::move(state)));
}

asio::awaitable<base::error_code> Push::Send(const PushMessage& message) {
  auto& s = *state_;
  if (s.failed || s.peer_gone) co_return asio::error::not_connected;
  if (s.ws) {
    auto [ec, n] = co_await s.ws->async_write(asio::buffer(message.data), kTuple);
    if (ec) s.failed = true;
    co_return ec;
  }
  std::string frame = SseFrame(message);
  co_return co_await s.WriteSse(frame);
}

asio::awaitable<bool> Push::Wait() {
  auto& s = *state_;
  for (;;) {
    if (s.peer_gone || s.draining || s.failed) co_return false;
    if (s.pending_wake.exchange(false)) co_return true;
    auto now = std::chrono::steady_clock::now();
    if (now >= s.next_heartbeat) {
      s.next_heartbeat = now + s.options.heartbeat;
      if (s.ws) {
        websocket::ping_data payload;
        auto [ec] = co_await s.ws->async_ping(payload, kTuple);
        if (ec) s.failed = true;
      } else {
        std::string comment = SseComment("heartbeat");
        co_await s.WriteSse(comment);
      }
      co_return !s.failed;
    }
    s.wake.expires_at(s.next_heartbeat);
    co_await s.wake.async_wait(kTuple);
  }
}

std::function<void()> Push::Waker() const {
  std::weak_ptr<State> weak = state_;
  auto executor = state_->executor;
  return [weak, executor] {
    auto s = weak.lock();
    if (!s) return;
    if (s->pending_wake.exchange(true)) return;  // a wake-up is already on its way
    asio::post(executor, [weak] {
      if (auto s = weak.lock()) s->wake.cancel();
    });
  };
}

asio::awaitable<void> Push::Close() {
  auto& s = *state_;
  if (s.closed) co_return;
  s.closed = true;
  if (s.ws) {
    if (!s.peer_gone && !s.failed) {
      websocket::close_reason reason(s.draining ? websocket::close_code::going_away
                                                : websocket::close_code::normal);
      co_await s.ws->async_close(reason, kTuple);
    }
    co_await s.JoinReader(s.options.close_timeout);
    s.ws.reset();
    co_return;
  }
  if (s.chunked && !s.peer_gone && !s.failed) {
    std::string last_chunk = "0\r\n\r\n";
    co_await s.WriteRaw(std::move(last_chunk));
  }
  boost::system::error_code ignored;
  s.stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  co_await s.JoinReader(s.options.close_timeout);
}

}  // namespace base::http
