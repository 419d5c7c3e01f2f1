#include "wa/client/media_http.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <optional>
#include <string>
#include <vector>

#include "wa/client/errors.h"
#include "wa/client/tls_stream.h"
#include "wa/media/upload.h"

namespace wa::client {

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kPiece = 16 * 1024;

// What a request holds, shared with its deadline so that the timer's handler never outlives it.
struct Exchange {
  Exchange(asio::any_io_executor ex, asio::ssl::context* tls)
      : socket(ex), timer(ex) {
    if (tls) stream.emplace(ex, *tls);
  }
  tcp::socket socket;                // plain http
  std::optional<TlsStream> stream;   // https (owns its own socket)
  asio::steady_timer timer;
  bool timed_out = false;

  tcp::socket& lowest() { return stream ? stream->lowest_layer() : socket; }
};

template <class Stream>
asio::awaitable<base::Result<media::HttpResponse>> Run(Stream& stream,
                                                      const media::HttpRequest& request,
                                                      const media::UrlParts& url,
                                                      media::BodySource body,
                                                      media::BodySink sink) {
  http::request<http::empty_body> head{
      request.method == "POST" ? http::verb::post : http::verb::get, url.target, 11};
  head.set(http::field::host, url.host);
  head.set(http::field::connection, "close");
  for (const auto& [k, v] : request.headers) head.set(k, v);
  if (request.body_length) head.content_length(*request.body_length);
  http::request_serializer<http::empty_body> serializer(head);
  auto [hec, hn] = co_await http::async_write_header(stream, serializer, kTuple);
  if (hec) co_return hec;
  if (body) {
    std::vector<std::uint8_t> piece(kPiece);
    for (;;) {
      auto n = body(piece);
      if (!n) co_return n.error();
      if (*n == 0) break;
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(piece.data(), *n), kTuple);
      if (wec) co_return wec;
    }
  }

  boost::beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  auto [rec, rn] = co_await http::async_read_header(stream, buffer, parser, kTuple);
  if (rec) co_return rec;
  media::HttpResponse response;
  response.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get()) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  std::vector<std::uint8_t> piece(kPiece);
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kTuple);
    if (ec && ec != http::error::need_buffer) co_return ec;
    std::size_t got = piece.size() - parser.get().body().size;
    if (got > 0 && sink) {
      if (auto taken = sink(response.status, base::ByteView(piece.data(), got)); !taken) {
        co_return taken.error();
      }
    }
  }
  co_return response;
}

class HttpMediaTransport final : public media::Transport {
 public:
  HttpMediaTransport(asio::any_io_executor ex, std::shared_ptr<asio::ssl::context> tls,
                     std::chrono::milliseconds timeout)
      : ex_(std::move(ex)), tls_(std::move(tls)), timeout_(timeout) {}

  asio::awaitable<base::Result<media::HttpResponse>> Send(media::HttpRequest request,
                                                          media::BodySource body,
                                                          media::BodySink sink) override {
    auto url = media::SplitUrl(request.url);
    if (!url) co_return url.error();
    bool https = url->scheme == "https";
    if (https && !tls_) co_return MakeError(Errc::kTlsSetup);
    auto ex = std::make_shared<Exchange>(ex_, https ? tls_.get() : nullptr);
    ex->timer.expires_after(timeout_);
    ex->timer.async_wait([ex](boost::system::error_code ec) {
      if (ec) return;
      ex->timed_out = true;
      boost::system::error_code ignored;
      ex->lowest().close(ignored);
    });
    struct CancelTimer {
      std::shared_ptr<Exchange> ex;
      ~CancelTimer() { ex->timer.cancel(); }
    } cancel{ex};

    // host may be "name", "name:port", "[v6]:port".
    std::string host = url->host, port = https ? "443" : "80";
    if (!host.empty() && host.front() == '[') {
      auto close = host.find(']');
      if (close == std::string::npos) co_return MakeError(Errc::kBadUrl);
      if (close + 1 < host.size() && host[close + 1] == ':') port = host.substr(close + 2);
      host = host.substr(1, close - 1);
    } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    tcp::resolver resolver(ex_);
    auto [rec, results] = co_await resolver.async_resolve(host, port, kTuple);
    if (rec) co_return ex->timed_out ? MakeError(Errc::kTimeout) : rec;
    auto [cec, ep] = co_await asio::async_connect(ex->lowest(), results, kTuple);
    if (cec) co_return ex->timed_out ? MakeError(Errc::kTimeout) : cec;
    base::Result<media::HttpResponse> out = MakeError(Errc::kTimeout);
    if (https) {
      if (!ex->stream->SetHost(host)) co_return MakeError(Errc::kTlsSetup);
      if (auto hec = co_await ex->stream->Handshake()) {
        co_return ex->timed_out ? MakeError(Errc::kTimeout) : hec;
      }
      out = co_await Run(*ex->stream, request, *url, std::move(body), std::move(sink));
    } else {
      out = co_await Run(ex->socket, request, *url, std::move(body), std::move(sink));
    }
    if (!out && ex->timed_out) co_return MakeError(Errc::kTimeout);
    boost::system::error_code ignored;
    ex->lowest().close(ignored);
    co_return out;
  }

 private:
  asio::any_io_executor ex_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::shared_ptr<media::Transport> MakeHttpMediaTransport(
    asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> tls,
    std::chrono::milliseconds timeout) {
  return std::make_shared<HttpMediaTransport>(std::move(executor), std::move(tls), timeout);
}

}  // namespace wa::client
