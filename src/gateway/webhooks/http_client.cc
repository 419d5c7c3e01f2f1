#include "gateway/webhooks/http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <charconv>
#include <variant>

namespace gateway::webhooks {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kMaxResponseBody = 64 * 1024;

struct Resolved {
  std::vector<tcp::endpoint> endpoints;
  std::string error;
};

asio::awaitable<Resolved> Resolve(const WebhookUrl& url, Clock::time_point deadline) {
  Resolved out;
  boost::system::error_code ec;
  auto literal = asio::ip::make_address(url.host, ec);
  if (!ec) {
    out.endpoints.emplace_back(literal, url.port);
    co_return out;
  }
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  asio::steady_timer timer(ex);
  timer.expires_at(deadline);
  std::string service = std::to_string(url.port);
  using namespace asio::experimental::awaitable_operators;
  auto resolving = resolver.async_resolve(url.host, service, asio::as_tuple(asio::use_awaitable));
  auto timing = timer.async_wait(asio::as_tuple(asio::use_awaitable));
  auto which = co_await (std::move(resolving) || std::move(timing));
  if (which.index() == 1) {
    out.error = "timed out resolving " + url.host;
    co_return out;
  }
  auto [rec, results] = std::get<0>(std::move(which));
  if (rec) {
    out.error = "cannot resolve " + url.host + ": " + rec.message();
    co_return out;
  }
  for (const auto& r : results) out.endpoints.push_back(r.endpoint());
  if (out.endpoints.empty()) out.error = "cannot resolve " + url.host + ": no addresses";
  co_return out;
}

template <class Stream>
asio::awaitable<boost::system::error_code> Exchange(Stream& stream, bhttp::request<bhttp::string_body>& req,
                                                    bhttp::response_parser<bhttp::string_body>& parser) {
  auto [wec, written] = co_await bhttp::async_write(stream, req, asio::as_tuple(asio::use_awaitable));
  if (wec) co_return wec;
  beast::flat_buffer buffer;
  auto [rec, read] = co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  co_return rec;
}

std::string Describe(const boost::system::error_code& ec, std::string_view stage,
                     std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) return "timed out after " + std::to_string(timeout.count()) + " ms (" + std::string(stage) + ")";
  return std::string(stage) + ": " + ec.message();
}

}  // namespace

HttpClient::HttpClient(const Allowlist& allow, const std::string& ca_file, std::chrono::milliseconds timeout)
    : allow_(allow), tls_(std::make_shared<ssl::context>(ssl::context::tls_client)), timeout_(timeout) {
  boost::system::error_code ec;
  tls_->set_default_verify_paths(ec);
  if (!ca_file.empty()) tls_->load_verify_file(ca_file, ec);
  tls_->set_verify_mode(ssl::verify_peer, ec);
  SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
}

asio::awaitable<PostResult> HttpClient::Post(const WebhookUrl& url,
                                             std::vector<std::pair<std::string, std::string>> headers,
                                             std::string body) {
  PostResult out;
  auto start = Clock::now();
  auto deadline = start + timeout_;
  auto finish = [&] {
    out.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  };
  auto resolved = co_await Resolve(url, deadline);
  if (!resolved.error.empty()) {
    out.error = resolved.error;
    finish();
    co_return out;
  }
  // The guard judges the addresses actually connected to (DNS rebinding).
  std::vector<tcp::endpoint> allowed;
  std::string refused;
  for (const auto& ep : resolved.endpoints) {
    if (AddressAllowed(ep.address(), url.host, allow_)) {
      allowed.push_back(ep);
    } else if (refused.empty()) {
      refused = ep.address().to_string() + " is a " + ToString(Classify(ep.address())) + " address";
    }
  }
  if (allowed.empty()) {
    out.error = "url_not_allowed: " + refused;
    out.refused = true;
    finish();
    co_return out;
  }

  bhttp::request<bhttp::string_body> req{bhttp::verb::post, url.target, 11};
  req.set(bhttp::field::host, url.host_header);
  req.set(bhttp::field::user_agent, "wagate-webhooks/1");
  req.set(bhttp::field::content_type, "application/json");
  req.set(bhttp::field::connection, "close");
  for (auto& [name, value] : headers) req.set(name, value);
  req.body() = std::move(body);
  req.prepare_payload();
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxResponseBody);

  auto ex = co_await asio::this_coro::executor;
  beast::tcp_stream stream(ex);
  stream.expires_at(deadline);
  auto [cec, connected] = co_await stream.async_connect(allowed, asio::as_tuple(asio::use_awaitable));
  if (cec) {
    out.error = Describe(cec, "connect", timeout_);
    finish();
    co_return out;
  }
  boost::system::error_code ec;
  if (url.https) {
    beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), *tls_);
    boost::system::error_code not_ip;
    asio::ip::make_address(url.host, not_ip);
    if (not_ip) SSL_set_tlsext_host_name(tls.native_handle(), url.host.c_str());
    tls.set_verify_callback(ssl::host_name_verification(url.host));
    auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
    if (hec) {
      out.error = Describe(hec, "TLS handshake", timeout_);
      finish();
      co_return out;
    }
    ec = co_await Exchange(tls, req, parser);
    beast::get_lowest_layer(tls).close();
  } else {
    ec = co_await Exchange(stream, req, parser);
    stream.close();
  }
  finish();
  // A body over the cap still leaves the status line: it counts.
  if (parser.is_header_done()) {
    const auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    if (auto it = res.find(bhttp::field::retry_after); it != res.end()) {
      auto v = it->value();
      int secs = 0;
      auto [end, perr] = std::from_chars(v.data(), v.data() + v.size(), secs);
      if (perr == std::errc() && end == v.data() + v.size() && secs > 0) out.retry_after_s = secs;
    }
    co_return out;
  }
  out.error = Describe(ec, "exchange", timeout_);
  co_return out;
}

asio::awaitable<std::optional<UrlError>> CheckResolved(const WebhookUrl& url, const Allowlist& allow,
                                                       std::chrono::milliseconds timeout) {
  auto resolved = co_await Resolve(url, Clock::now() + timeout);
  if (!resolved.error.empty()) co_return UrlError{"invalid_url", resolved.error};
  for (const auto& ep : resolved.endpoints) {
    if (!AddressAllowed(ep.address(), url.host, allow)) {
      co_return UrlError{"url_not_allowed", url.host + " resolves to " + ep.address().to_string() + ", a " +
                                                ToString(Classify(ep.address())) +
                                                " address; the operator has not allowed it"};
    }
  }
  co_return std::nullopt;
}

}  // namespace gateway::webhooks
