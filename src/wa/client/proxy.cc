#include "wa/client/proxy.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <charconv>

#include "wa/client/errors.h"

namespace wa::client::proxy {

namespace asio = boost::asio;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

std::string Authority(std::string_view host, std::uint16_t port) {
  std::string h = host.find(':') != std::string_view::npos ? "[" + std::string(host) + "]"
                                                           : std::string(host);
  return h + ":" + std::to_string(port);
}

}  // namespace

std::string HttpConnectRequest(const ProxyConfig& proxy, std::string_view host,
                               std::uint16_t port) {
  std::string authority = Authority(host, port);
  std::string req = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (!proxy.username.empty()) {
    req += "Proxy-Authorization: Basic " +
           base::ToBase64(base::AsBytes(proxy.username + ":" + proxy.password)) + "\r\n";
  }
  req += "\r\n";
  return req;
}

base::Result<int> ParseHttpConnectStatus(std::string_view head) {
  // "HTTP/1.1 200 Connection established"
  if (head.substr(0, 7) != "HTTP/1." || head.size() < 12 || head[8] != ' ') {
    return MakeError(Errc::kProxyProtocol);
  }
  int status = 0;
  auto [p, ec] = std::from_chars(head.data() + 9, head.data() + 12, status);
  if (ec != std::errc() || p != head.data() + 12 || status < 100) {
    return MakeError(Errc::kProxyProtocol);
  }
  return status;
}

base::Bytes Socks5Greeting(const ProxyConfig& proxy) {
  if (proxy.username.empty()) return {0x05, 0x01, 0x00};
  return {0x05, 0x02, 0x00, 0x02};
}

base::Result<std::uint8_t> ParseSocks5Choice(base::ByteView answer, const ProxyConfig& proxy) {
  if (answer.size() != 2 || answer[0] != 0x05) return MakeError(Errc::kProxyProtocol);
  std::uint8_t method = answer[1];
  if (method == 0x00) return method;
  if (method == 0x02 && !proxy.username.empty()) return method;
  return MakeError(Errc::kProxyAuthFailed);
}

base::Bytes Socks5Auth(const ProxyConfig& proxy) {
  base::Bytes out{0x01, static_cast<std::uint8_t>(proxy.username.size())};
  out.insert(out.end(), proxy.username.begin(), proxy.username.end());
  out.push_back(static_cast<std::uint8_t>(proxy.password.size()));
  out.insert(out.end(), proxy.password.begin(), proxy.password.end());
  return out;
}

base::Result<void> ParseSocks5AuthStatus(base::ByteView answer) {
  if (answer.size() != 2 || answer[0] != 0x01) return MakeError(Errc::kProxyProtocol);
  if (answer[1] != 0x00) return MakeError(Errc::kProxyAuthFailed);
  return {};
}

base::Bytes Socks5Connect(std::string_view host, std::uint16_t port) {
  base::Bytes out{0x05, 0x01, 0x00};
  boost::system::error_code ec;
  auto address = asio::ip::make_address(std::string(host), ec);
  if (!ec && address.is_v4()) {
    out.push_back(0x01);
    auto b = address.to_v4().to_bytes();
    out.insert(out.end(), b.begin(), b.end());
  } else if (!ec && address.is_v6()) {
    out.push_back(0x04);
    auto b = address.to_v6().to_bytes();
    out.insert(out.end(), b.begin(), b.end());
  } else {
    out.push_back(0x03);
    out.push_back(static_cast<std::uint8_t>(std::min<std::size_t>(host.size(), 255)));
    out.insert(out.end(), host.begin(), host.begin() + std::min<std::size_t>(host.size(), 255));
  }
  out.push_back(static_cast<std::uint8_t>(port >> 8));
  out.push_back(static_cast<std::uint8_t>(port & 0xFF));
  return out;
}

base::Result<std::size_t> ParseSocks5ReplyHead(base::ByteView head) {
  if (head.size() != 5 || head[0] != 0x05 || head[2] != 0x00) {
    return MakeError(Errc::kProxyProtocol);
  }
  if (head[1] != 0x00) return MakeError(Errc::kProxyRefused);
  // The fifth byte is the first of the bound address (or the domain length).
  switch (head[3]) {
    case 0x01: return std::size_t{4 - 1 + 2};
    case 0x04: return std::size_t{16 - 1 + 2};
    case 0x03: return std::size_t{head[4]} + 2;
    default: return MakeError(Errc::kProxyProtocol);
  }
}

namespace {

asio::awaitable<base::Result<void>> HttpTunnel(asio::ip::tcp::socket& socket,
                                               const ProxyConfig& proxy, const std::string& host,
                                               std::uint16_t port) {
  std::string request = HttpConnectRequest(proxy, host, port);
  auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(request), kTuple);
  if (wec) co_return wec;
  std::string head;
  // A proxy's answer head is small; the cap keeps a hostile one from growing it.
  auto buffer = asio::dynamic_buffer(head, 16 * 1024);
  auto [rec, n] = co_await asio::async_read_until(socket, buffer, "\r\n\r\n", kTuple);
  if (rec) co_return rec == asio::error::not_found ? MakeError(Errc::kProxyProtocol) : rec;
  // The target speaks only after we do (TLS client hello / WebSocket upgrade), so nothing can
  // follow the head.
  if (n != head.size()) co_return MakeError(Errc::kProxyProtocol);
  auto status = ParseHttpConnectStatus(head);
  if (!status) co_return status.error();
  if (*status == 407) co_return MakeError(Errc::kProxyAuthFailed);
  if (*status < 200 || *status > 299) co_return MakeError(Errc::kProxyRefused);
  co_return base::Result<void>{};
}

asio::awaitable<base::Result<void>> Socks5Tunnel(asio::ip::tcp::socket& socket,
                                                 const ProxyConfig& proxy, const std::string& host,
                                                 std::uint16_t port) {
  auto greeting = Socks5Greeting(proxy);
  auto [ec1, n1] = co_await asio::async_write(socket, asio::buffer(greeting), kTuple);
  if (ec1) co_return ec1;
  std::uint8_t choice[2];
  auto [ec2, n2] = co_await asio::async_read(socket, asio::buffer(choice), kTuple);
  if (ec2) co_return ec2;
  auto method = ParseSocks5Choice(choice, proxy);
  if (!method) co_return method.error();
  if (*method == 0x02) {
    auto auth = Socks5Auth(proxy);
    auto [ec3, n3] = co_await asio::async_write(socket, asio::buffer(auth), kTuple);
    if (ec3) co_return ec3;
    std::uint8_t status[2];
    auto [ec4, n4] = co_await asio::async_read(socket, asio::buffer(status), kTuple);
    if (ec4) co_return ec4;
    if (auto ok = ParseSocks5AuthStatus(status); !ok) co_return ok.error();
  }
  auto connect = Socks5Connect(host, port);
  auto [ec5, n5] = co_await asio::async_write(socket, asio::buffer(connect), kTuple);
  if (ec5) co_return ec5;
  std::uint8_t head[5];
  auto [ec6, n6] = co_await asio::async_read(socket, asio::buffer(head), kTuple);
  if (ec6) co_return ec6;
  auto rest = ParseSocks5ReplyHead(head);
  if (!rest) co_return rest.error();
  std::uint8_t tail[257];
  auto [ec7, n7] = co_await asio::async_read(socket, asio::buffer(tail, *rest), kTuple);
  if (ec7) co_return ec7;
  co_return base::Result<void>{};
}

}  // namespace

asio::awaitable<base::Result<void>> Tunnel(asio::ip::tcp::socket& socket, const ProxyConfig& proxy,
                                           std::string host, std::uint16_t port) {
  if (proxy.kind == ProxyConfig::Kind::kHttp) {
    co_return co_await HttpTunnel(socket, proxy, host, port);
  }
  co_return co_await Socks5Tunnel(socket, proxy, host, port);
}

}  // namespace wa::client::proxy
