#include "wa/client/config.h"

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "wa/client/errors.h"

namespace wa::client {

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> PercentDecode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    int hi = HexDigit(in[i + 1]), lo = HexDigit(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::optional<std::uint16_t> ParsePort(std::string_view s) {
  unsigned value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Splits "host[:port]" / "[v6][:port]"; port stays empty when absent.
bool SplitHostPort(std::string_view authority, std::string* host, std::string_view* port) {
  if (authority.empty()) return false;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    *host = std::string(authority.substr(1, close - 1));
    auto rest = authority.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    *port = rest.substr(1);
    return !port->empty();
  }
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    *host = std::string(authority);
  } else {
    *host = std::string(authority.substr(0, colon));
    *port = authority.substr(colon + 1);
    if (port->empty()) return false;
  }
  if (host->empty()) return false;
  return host->find_first_of(" /?#@[]") == std::string::npos;
}

}  // namespace

base::Result<ProxyConfig> ParseProxyUrl(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return MakeError(Errc::kBadProxyUrl);
  std::string scheme = Lower(url.substr(0, scheme_end));
  ProxyConfig proxy;
  if (scheme == "http") {
    proxy.kind = ProxyConfig::Kind::kHttp;
  } else if (scheme == "socks5" || scheme == "socks5h") {
    proxy.kind = ProxyConfig::Kind::kSocks5;
  } else {
    return MakeError(Errc::kBadProxyUrl);
  }
  std::string_view rest = url.substr(scheme_end + 3);
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") return MakeError(Errc::kBadProxyUrl);
    rest = rest.substr(0, slash);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    auto user = PercentDecode(userinfo.substr(0, colon));
    auto pass = PercentDecode(colon == std::string_view::npos ? std::string_view{}
                                                               : userinfo.substr(colon + 1));
    if (!user || !pass || user->empty()) return MakeError(Errc::kBadProxyUrl);
    // RFC 1929 carries each in one length byte.
    if (user->size() > 255 || pass->size() > 255) return MakeError(Errc::kBadProxyUrl);
    proxy.username = std::move(*user);
    proxy.password = std::move(*pass);
  }
  std::string_view port;
  if (!SplitHostPort(rest, &proxy.host, &port)) return MakeError(Errc::kBadProxyUrl);
  if (port.empty()) {
    if (proxy.kind == ProxyConfig::Kind::kSocks5) return MakeError(Errc::kBadProxyUrl);
    proxy.port = 80;
  } else {
    auto p = ParsePort(port);
    if (!p) return MakeError(Errc::kBadProxyUrl);
    proxy.port = *p;
  }
  if (proxy.host.size() > 255) return MakeError(Errc::kBadProxyUrl);
  return proxy;
}

std::string Endpoint::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

base::Result<Endpoint> ParseWebSocketUrl(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return MakeError(Errc::kBadUrl);
  std::string scheme = Lower(url.substr(0, scheme_end));
  Endpoint ep;
  if (scheme == "wss") {
    ep.tls = true;
  } else if (scheme == "ws") {
    ep.tls = false;
  } else {
    return MakeError(Errc::kBadUrl);
  }
  std::string_view rest = url.substr(scheme_end + 3);
  auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  if (authority.find('@') != std::string_view::npos) return MakeError(Errc::kBadUrl);
  std::string_view port;
  if (!SplitHostPort(authority, &ep.host, &port)) return MakeError(Errc::kBadUrl);
  if (port.empty()) {
    ep.port = ep.tls ? 443 : 80;
  } else {
    auto p = ParsePort(port);
    if (!p) return MakeError(Errc::kBadUrl);
    ep.port = *p;
  }
  if (path_start == std::string_view::npos) {
    ep.target = "/";
  } else {
    ep.target = std::string(rest.substr(path_start));
    if (ep.target.front() == '?') ep.target.insert(ep.target.begin(), '/');
  }
  if (auto hash = ep.target.find('#'); hash != std::string::npos) ep.target.resize(hash);
  return ep;
}

std::string AppVersion::ToString() const {
  return std::to_string(primary) + "." + std::to_string(secondary) + "." +
         std::to_string(tertiary);
}

std::chrono::milliseconds BackoffDelay(const Backoff& backoff, int attempt, double random01) {
  if (attempt < 1) attempt = 1;
  double base = static_cast<double>(backoff.initial.count()) *
                std::pow(backoff.multiplier, static_cast<double>(attempt - 1));
  double cap = static_cast<double>(backoff.max.count());
  double delay = std::min(base, cap);
  double jitter = std::clamp(backoff.jitter, 0.0, 1.0);
  double r = std::clamp(random01, 0.0, 1.0);
  double out = delay * (1.0 - jitter) + delay * jitter * r;
  return std::chrono::milliseconds(static_cast<std::int64_t>(out));
}

base::Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(
    const std::string& ca_file) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);
  if (ec) return MakeError(Errc::kTlsSetup);
  if (!ca_file.empty()) {
    ctx->load_verify_file(ca_file, ec);
    if (ec) return MakeError(Errc::kTlsSetup);
  }
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ec) return MakeError(Errc::kTlsSetup);
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  return ctx;
}

}  // namespace wa::client
