#include "wa/client/transport.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include <vector>

#include "base/task_group.h"
#include "wa/binary/decoder.h"
#include "wa/binary/encoder.h"
#include "wa/client/errors.h"
#include "wa/client/proxy.h"
#include "wa/client/tls_stream.h"
#include "wa/noise/frame.h"
#include "wa/noise/handshake.h"

namespace wa::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

using PlainWs = websocket::stream<tcp::socket>;
// TLS through our own lean stream (tls_stream.h), not asio::ssl::stream: see there why.
using TlsWs = websocket::stream<TlsStream>;

// Runs `fn` on the strand when `after` has passed, unless destroyed first. The timer's handler
// holds the state, so a late handler after destruction finds fn cleared and does nothing.
class Deadline {
 public:
  Deadline(asio::any_io_executor ex, std::chrono::milliseconds after, std::function<void()> fn)
      : state_(std::make_shared<State>(std::move(ex))) {
    state_->fn = std::move(fn);
    state_->timer.expires_after(after);
    state_->timer.async_wait([s = state_](boost::system::error_code ec) {
      if (ec || !s->fn) return;
      auto f = std::move(s->fn);
      s->fn = nullptr;
      f();
    });
  }
  ~Deadline() {
    state_->fn = nullptr;
    state_->timer.cancel();
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

 private:
  struct State {
    explicit State(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    std::function<void()> fn;
  };
  std::shared_ptr<State> state_;
};

bool IsDisconnect(const boost::system::error_code& ec) {
  return ec == websocket::error::closed || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
         ec == asio::error::broken_pipe || ec == asio::error::operation_aborted ||
         ec == asio::error::bad_descriptor || ec == asio::ssl::error::stream_truncated ||
         ec == asio::error::not_connected;
}

std::uint64_t NowUnix() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

struct ChannelOptions {
  std::chrono::milliseconds close_timeout;
  std::string log_name;
};

template <class Ws>
class WsChannel final : public Channel, public std::enable_shared_from_this<WsChannel<Ws>> {
 public:
  template <class... Args>
  WsChannel(asio::any_io_executor ex, ChannelOptions options, Args&&... args)
      : ex_(ex),
        options_(std::move(options)),
        ws_(std::forward<Args>(args)...),
        wake_(ex, std::chrono::steady_clock::time_point::max()),
        writer_("ws-writer") {}

  Ws& ws() { return ws_; }

  // Closes the socket under every layer: pending operations complete with an error.
  void AbortIo() {
    boost::system::error_code ignored;
    auto& socket = beast::get_lowest_layer(ws_);
    if (socket.is_open()) {
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    }
  }

  // Noise XX as initiator over the open WebSocket; on success the channel is ready.
  asio::awaitable<base::Result<void>> Handshake(const ConnectRequest& request,
                                                const crypto::Key32& trust_root) {
    noise::Initiator initiator({.static_key = request.noise_key,
                                .ephemeral = std::nullopt,
                                .trust_root = trust_root,
                                .now_unix = NowUnix()});
    auto intro = noise::MakeIntroHeader(request.routing_info);
    if (!intro) co_return intro.error();
    writer_frames_ = noise::FrameWriter(std::move(*intro));
    auto hello = initiator.ClientHello();
    if (!hello) co_return hello.error();
    if (auto w = co_await WriteRaw(*hello); !w) co_return w.error();
    auto server_hello = co_await ReadFrame();
    if (!server_hello) co_return server_hello.error();
    auto verified = initiator.ReadServerHello(*server_hello);
    if (!verified) co_return verified.error();
    auto finish = initiator.ClientFinish(request.client_payload);
    if (!finish) co_return finish.error();
    if (auto w = co_await WriteRaw(*finish); !w) co_return w.error();
    auto ciphers = initiator.Split();
    if (!ciphers) co_return ciphers.error();
    ciphers_.emplace(std::move(*ciphers));
    reader_.SetMaxFrameSize(noise::kMaxFrameSize);
    co_return base::Result<void>{};
  }

  void StartWriter() { writer_.Spawn(ex_, WriteLoop(this->shared_from_this())); }

  asio::awaitable<base::Result<binary::Node>> Read() override {
    for (;;) {
      auto frame = co_await ReadFrame();
      if (!frame) co_return frame.error();
      auto plain = ciphers_->recv.Decrypt(*frame);
      if (!plain) {
        Abort(plain.error());
        co_return plain.error();
      }
      auto node = binary::Decode(*plain);
      if (!node) {
        spdlog::warn("{}: undecodable stanza: {}", options_.log_name, node.error().Message());
        Abort(node.error().ToErrorCode());
        co_return node.error().ToErrorCode();
      }
      co_return std::move(*node);
    }
  }

  base::Result<void> Send(const binary::Node& node) override { return SendTracked(node, nullptr); }

  base::Result<void> SendTracked(const binary::Node& node, WriteDone done) override {
    if (closing_ || abort_reason_ || !ciphers_) return MakeError(Errc::kDisconnected);
    auto sealed = ciphers_->send.Encrypt(binary::Encode(node));
    if (!sealed) {
      Abort(sealed.error());
      return sealed.error();
    }
    auto framed = writer_frames_.Encode(*sealed);
    if (!framed) return framed.error();
    queue_.push_back(Pending{std::move(*framed), std::move(done)});
    wake_.cancel();
    return {};
  }

  void Close() override {
    if (closing_ || abort_reason_) return;
    closing_ = true;
    wake_.cancel();
    close_deadline_ = std::make_unique<Deadline>(ex_, options_.close_timeout, [this] {
      Abort(MakeError(Errc::kDisconnected));
    });
  }

  void Abort(base::error_code reason) override {
    if (!abort_reason_) abort_reason_ = reason;
    closing_ = true;
    queue_.clear();
    head_ = 0;
    close_deadline_.reset();
    AbortIo();
    wake_.cancel();
  }

  std::optional<std::chrono::steady_clock::time_point> write_started() const override {
    return write_started_;
  }

 private:
  base::error_code MapError(const base::error_code& ec) const {
    if (abort_reason_) return abort_reason_;
    if (IsDisconnect(ec)) return MakeError(Errc::kDisconnected);
    return ec;
  }

  asio::awaitable<base::Result<void>> WriteRaw(base::ByteView payload) {
    auto framed = writer_frames_.Encode(payload);
    if (!framed) co_return framed.error();
    auto [ec, n] = co_await ws_.async_write(asio::buffer(*framed), kTuple);
    if (ec) co_return MapError(ec);
    co_return base::Result<void>{};
  }

  // The next complete frame, reading WebSocket messages as needed.
  asio::awaitable<base::Result<base::Bytes>> ReadFrame() {
    for (;;) {
      if (abort_reason_) co_return abort_reason_;
      auto next = reader_.Next();
      if (!next) {
        spdlog::warn("{}: bad framing: {}", options_.log_name, next.error().Describe());
        Abort(MakeError(next.error().code));
        co_return MakeError(next.error().code);
      }
      if (*next) co_return std::move(**next);
      auto [ec, n] = co_await ws_.async_read(read_buffer_, kTuple);
      if (ec) co_return MapError(ec);
      auto data = read_buffer_.cdata();
      auto fed = reader_.Feed({static_cast<const std::uint8_t*>(data.data()), data.size()});
      read_buffer_.consume(n);
      // Idle connections keep no large buffers: a big message's capacity is released.
      if (read_buffer_.capacity() > kKeepBuffer) read_buffer_.shrink_to_fit();
      if (!fed) {
        Abort(MakeError(fed.error().code));
        co_return MakeError(fed.error().code);
      }
      if (n > kKeepBuffer && reader_.buffered() == 0 && ciphers_) {
        reader_ = noise::FrameReader({.expect_intro = false, .max_frame_size = noise::kMaxFrameSize});
      }
    }
  }

  static asio::awaitable<void> WriteLoop(std::shared_ptr<WsChannel> self) {
    for (;;) {
      while (self->head_ < self->queue_.size()) {
        Pending next = std::move(self->queue_[self->head_++]);
        if (self->head_ == self->queue_.size()) {
          self->queue_.clear();
          self->head_ = 0;
          if (self->queue_.capacity() > 16) self->queue_.shrink_to_fit();
        }
        self->write_started_ = std::chrono::steady_clock::now();
        auto [ec, n] = co_await self->ws_.async_write(asio::buffer(next.frame), kTuple);
        self->write_started_.reset();
        if (ec) {
          self->Abort(self->MapError(ec));
          co_return;
        }
        if (next.done) next.done(std::chrono::steady_clock::now());
      }
      if (self->abort_reason_) co_return;
      if (self->closing_) {
        auto [ec] = co_await self->ws_.async_close(websocket::close_code::normal, kTuple);
        (void)ec;  // either way the stream is over; the pending Read reports it
        self->Abort(MakeError(Errc::kDisconnected));
        co_return;
      }
      self->wake_.expires_at(std::chrono::steady_clock::time_point::max());
      auto [ec] = co_await self->wake_.async_wait(kTuple);
      (void)ec;
    }
  }

  static constexpr std::size_t kKeepBuffer = 4096;

  asio::any_io_executor ex_;
  ChannelOptions options_;
  Ws ws_;
  beast::flat_buffer read_buffer_;
  noise::FrameReader reader_{{.expect_intro = false, .max_frame_size = noise::kMaxHandshakeFrameSize}};
  noise::FrameWriter writer_frames_;
  std::optional<noise::TransportCiphers> ciphers_;
  // A framed node waiting for the writer, and who wants to know when it left.
  struct Pending {
    base::Bytes frame;
    WriteDone done;
  };
  std::vector<Pending> queue_;
  std::size_t head_ = 0;
  asio::steady_timer wake_;
  std::optional<std::chrono::steady_clock::time_point> write_started_;
  std::unique_ptr<Deadline> close_deadline_;
  base::error_code abort_reason_;
  bool closing_ = false;
  base::TaskGroup writer_;
};

class NetworkConnector final : public Connector {
 public:
  NetworkConnector(asio::any_io_executor ex, const Config& config, Endpoint endpoint,
                   std::shared_ptr<asio::ssl::context> tls)
      : ex_(std::move(ex)),
        endpoint_(std::move(endpoint)),
        tls_(std::move(tls)),
        proxy_(config.proxy),
        origin_(config.origin),
        trust_root_(config.trust_root),
        options_{config.timeouts.close, config.log_name} {}

  asio::awaitable<base::Result<std::shared_ptr<Channel>>> Connect(ConnectRequest request) override {
    if (endpoint_.tls) {
      co_return co_await ConnectAs<TlsWs>(std::move(request));
    }
    co_return co_await ConnectAs<PlainWs>(std::move(request));
  }

 private:
  template <class Ws>
  asio::awaitable<base::Result<std::shared_ptr<Channel>>> ConnectAs(ConnectRequest request) {
    constexpr bool kTls = std::is_same_v<Ws, TlsWs>;
    std::shared_ptr<WsChannel<Ws>> channel;
    if constexpr (kTls) {
      channel = std::make_shared<WsChannel<Ws>>(ex_, options_, ex_, *tls_);
    } else {
      channel = std::make_shared<WsChannel<Ws>>(ex_, options_, ex_);
    }
    tcp::resolver resolver(ex_);
    bool timed_out = false;
    bool cancelled = request.abort && request.abort->aborted();
    auto stop_io = [&] {
      resolver.cancel();
      channel->AbortIo();
    };
    Deadline deadline(ex_, request.timeout, [&] {
      timed_out = true;
      stop_io();
    });
    if (request.abort) {
      request.abort->OnAbort([&] {
        cancelled = true;
        stop_io();
      });
    }
    struct ClearAbort {
      ConnectAbort* abort;
      ~ClearAbort() {
        if (abort) abort->OnAbort(nullptr);
      }
    } clear_abort{request.abort.get()};
    auto fail = [&](base::error_code ec) -> base::error_code {
      channel->AbortIo();
      if (timed_out) return MakeError(Errc::kTimeout);
      if (cancelled) return MakeError(Errc::kCancelled);
      return ec;
    };
    if (cancelled) co_return fail(MakeError(Errc::kCancelled));

    const std::string& host = proxy_ ? proxy_->host : endpoint_.host;
    std::uint16_t port = proxy_ ? proxy_->port : endpoint_.port;
    auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), kTuple);
    if (rec) co_return fail(rec);
    auto& socket = beast::get_lowest_layer(channel->ws());
    auto [cec, ep] = co_await asio::async_connect(socket, results, kTuple);
    if (cec) co_return fail(cec);
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);

    if (proxy_) {
      auto tunnel = co_await proxy::Tunnel(socket, *proxy_, endpoint_.host, endpoint_.port);
      if (!tunnel) co_return fail(tunnel.error());
    }

    auto& ws = channel->ws();
    if constexpr (kTls) {
      auto& tls = ws.next_layer();
      if (!tls.SetHost(endpoint_.host)) co_return fail(MakeError(Errc::kTlsSetup));
      auto hec = co_await tls.Handshake();
      if (hec) co_return fail(hec);
    }

    ws.binary(true);
    ws.auto_fragment(false);
    ws.read_message_max(noise::kMaxFrameSize + 64);
    ws.write_buffer_bytes(2048);
    ws.set_option(websocket::stream_base::decorator(
        [origin = origin_](websocket::request_type& req) {
          req.set(beast::http::field::origin, origin);
        }));
    websocket::response_type response;
    auto [wec] = co_await ws.async_handshake(response, endpoint_.HostHeader(), endpoint_.target,
                                             kTuple);
    if (wec) {
      if (wec == websocket::error::upgrade_declined) {
        spdlog::info("{}: WebSocket upgrade refused with HTTP {}", options_.log_name,
                     response.result_int());
        co_return fail(MakeError(Errc::kUpgradeRejected));
      }
      co_return fail(wec);
    }

    auto shaken = co_await channel->Handshake(request, trust_root_);
    if (!shaken) co_return fail(shaken.error());
    if (timed_out || cancelled) co_return fail(MakeError(Errc::kCancelled));
    channel->StartWriter();
    co_return std::shared_ptr<Channel>(channel);
  }

  asio::any_io_executor ex_;
  Endpoint endpoint_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::optional<ProxyConfig> proxy_;
  std::string origin_;
  crypto::Key32 trust_root_;
  ChannelOptions options_;
};

}  // namespace

base::Result<std::shared_ptr<Connector>> MakeNetworkConnector(asio::any_io_executor executor,
                                                              const Config& config) {
  auto endpoint = ParseWebSocketUrl(config.url);
  if (!endpoint) return endpoint.error();
  std::shared_ptr<asio::ssl::context> tls = config.tls_context;
  if (endpoint->tls && !tls) {
    auto made = MakeTlsContext(config.ca_file);
    if (!made) return made.error();
    tls = std::move(*made);
  }
  return std::shared_ptr<Connector>(
      std::make_shared<NetworkConnector>(std::move(executor), config, std::move(*endpoint), tls));
}

}  // namespace wa::client
