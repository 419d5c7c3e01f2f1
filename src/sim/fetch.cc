#include "sim/fetch.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>

#include "wa/media/upload.h"

namespace sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Target {
  bool tls = false;
  tcp::endpoint endpoint;
  std::string host_header;
  std::string path;
};

base::Result<Target, FetchError> Resolve(std::string_view url) {
  auto parts = wa::media::SplitUrl(url);
  if (!parts) {
    return FetchError{FetchError::Kind::kBadUrl,
                      "\"url\" must be http:// or https:// with a host and a path"};
  }
  Target t;
  t.tls = parts->scheme == "https";
  t.host_header = parts->host;
  t.path = parts->target;
  std::string_view host = parts->host;
  std::string_view port_text;
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos)
      return FetchError{FetchError::Kind::kBadUrl, "bad IPv6 host"};
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return FetchError{FetchError::Kind::kBadUrl, "bad IPv6 host"};
      port_text = host.substr(close + 2);
    }
    host = host.substr(1, close - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port_text = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  unsigned port = t.tls ? 443 : 80;
  if (!port_text.empty()) {
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return FetchError{FetchError::Kind::kBadUrl, "bad port in \"url\""};
    }
  }
  boost::system::error_code ec;
  asio::ip::address address;
  if (host == "localhost") {
    address = asio::ip::address_v4::loopback();
  } else {
    address = asio::ip::make_address(std::string(host), ec);
  }
  if (ec || !address.is_loopback()) {
    return FetchError{FetchError::Kind::kNotLoopback,
                      "the simulated phone fetches media only from loopback addresses "
                      "(127.0.0.0/8, ::1, localhost), not " +
                          std::string(host)};
  }
  t.endpoint = tcp::endpoint(address, static_cast<std::uint16_t>(port));
  return t;
}

template <class Stream>
asio::awaitable<base::Result<FetchedFile, FetchError>> Exchange(Stream& stream, const Target& t,
                                                                std::uint64_t max_bytes) {
  http::request<http::empty_body> req{http::verb::get, t.path, 11};
  req.set(http::field::host, t.host_header);
  req.set(http::field::user_agent, "wasim-phone");
  req.set(http::field::connection, "close");
  auto [wec, wn] = co_await http::async_write(stream, req, kTuple);
  if (wec) co_return FetchError{FetchError::Kind::kFailed, "sending the request: " + wec.message()};
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_bytes);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kTuple);
  if (rec == http::error::body_limit) {
    co_return FetchError{FetchError::Kind::kTooLarge,
                         "the file is larger than " + std::to_string(max_bytes) + " bytes"};
  }
  if (rec) co_return FetchError{FetchError::Kind::kFailed, "reading the answer: " + rec.message()};
  auto res = parser.release();
  if (res.result() != http::status::ok) {
    co_return FetchError{FetchError::Kind::kFailed,
                         "the server answered " + std::to_string(res.result_int())};
  }
  FetchedFile out;
  out.content_type = std::string(res[http::field::content_type]);
  out.body = std::move(res.body());
  co_return out;
}

}  // namespace

base::Result<void, FetchError> CheckLoopbackUrl(std::string_view url) {
  auto t = Resolve(url);
  if (!t) return t.error();
  return {};
}

asio::awaitable<base::Result<FetchedFile, FetchError>> FetchLoopback(asio::any_io_executor ex,
                                                                     std::string url,
                                                                     std::uint64_t max_bytes,
                                                                     std::chrono::seconds timeout) {
  auto target = Resolve(url);
  if (!target) co_return target.error();
  beast::tcp_stream tcp(ex);
  tcp.expires_after(timeout);
  auto [cec] = co_await tcp.async_connect(target->endpoint, kTuple);
  if (cec) {
    co_return FetchError{FetchError::Kind::kFailed,
                         "cannot connect to " + target->host_header + ": " + cec.message()};
  }
  if (!target->tls) co_return co_await Exchange(tcp, *target, max_bytes);
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_verify_mode(asio::ssl::verify_none);  // loopback only (see fetch.h)
  beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), ctx);
  auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kTuple);
  if (hec) co_return FetchError{FetchError::Kind::kFailed, "TLS handshake: " + hec.message()};
  co_return co_await Exchange(tls, *target, max_bytes);
}

}  // namespace sim
