// Tunnels through an HTTP CONNECT proxy (RFC 9110 §9.3.6, Basic credentials) or a SOCKS5 proxy
// (RFC 1928, username/password RFC 1929). The proxy resolves the target name (SOCKS5 ATYP
// DOMAINNAME unless the target is an IP literal), so DNS for the WhatsApp host never leaves
// through the local resolver. The byte-level encoders and parsers are pure and tested on their
// own; Tunnel drives them over a connected socket.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/result.h"
#include "wa/client/config.h"

namespace wa::client::proxy {

// "CONNECT host:port HTTP/1.1\r\nHost: host:port\r\n[Proxy-Authorization: Basic …\r\n]\r\n".
std::string HttpConnectRequest(const ProxyConfig& proxy, std::string_view host, std::uint16_t port);
// The status code of a complete response head ("HTTP/1.x NNN ...\r\n...\r\n\r\n"); kProxyProtocol
// when malformed.
base::Result<int> ParseHttpConnectStatus(std::string_view head);

// SOCKS5 greeting: 05, method count, methods (00 no auth; 02 username/password if configured).
base::Bytes Socks5Greeting(const ProxyConfig& proxy);
// The method the server chose from its 2-byte answer: 0x00 or 0x02; kProxyAuthFailed for 0xFF
// (no acceptable method) or a method we did not offer, kProxyProtocol for a bad version.
base::Result<std::uint8_t> ParseSocks5Choice(base::ByteView answer, const ProxyConfig& proxy);
// RFC 1929 request: 01, ulen, user, plen, password.
base::Bytes Socks5Auth(const ProxyConfig& proxy);
// RFC 1929 answer (2 bytes): status 0 is success, else kProxyAuthFailed.
base::Result<void> ParseSocks5AuthStatus(base::ByteView answer);
// CONNECT request: 05 01 00 ATYP addr port (IPv4, IPv6 or domain name).
base::Bytes Socks5Connect(std::string_view host, std::uint16_t port);
// The first 5 bytes of the reply: checks version and REP (kProxyRefused for REP != 0) and returns
// how many more bytes the reply has (address remainder and port).
base::Result<std::size_t> ParseSocks5ReplyHead(base::ByteView head);

// Runs the proxy's handshake on `socket` (connected to the proxy) so that it then carries a
// byte stream to host:port. The caller bounds it with a deadline (closing the socket ends it).
boost::asio::awaitable<base::Result<void>> Tunnel(boost::asio::ip::tcp::socket& socket,
                                                  const ProxyConfig& proxy, std::string host,
                                                  std::uint16_t port);

}  // namespace wa::client::proxy
