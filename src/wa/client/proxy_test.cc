#include "wa/client/proxy.h"

#include <gtest/gtest.h>

#include "wa/client/errors.h"

namespace wa::client {
namespace {

ProxyConfig WithAuth() {
  ProxyConfig p;
  p.kind = ProxyConfig::Kind::kSocks5;
  p.host = "proxy";
  p.port = 1080;
  p.username = "user";
  p.password = "secret";
  return p;
}

TEST(HttpConnect, Request) {
  ProxyConfig p{ProxyConfig::Kind::kHttp, "proxy", 3128, "", ""};
  EXPECT_EQ(proxy::HttpConnectRequest(p, "web.whatsapp.com", 443),
            "CONNECT web.whatsapp.com:443 HTTP/1.1\r\nHost: web.whatsapp.com:443\r\n\r\n");
  p.username = "Aladdin";
  p.password = "open sesame";
  EXPECT_EQ(proxy::HttpConnectRequest(p, "::1", 80),
            "CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n"
            "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
}

TEST(HttpConnect, Status) {
  EXPECT_EQ(*proxy::ParseHttpConnectStatus("HTTP/1.1 200 Connection established\r\n\r\n"), 200);
  EXPECT_EQ(*proxy::ParseHttpConnectStatus("HTTP/1.0 407 Proxy Authentication Required\r\n\r\n"), 407);
  EXPECT_FALSE(proxy::ParseHttpConnectStatus("SSH-2.0-OpenSSH\r\n\r\n"));
  EXPECT_FALSE(proxy::ParseHttpConnectStatus("HTTP/1.1 2x0 ok\r\n\r\n"));
}

TEST(Socks5, Greeting) {
  ProxyConfig anon{ProxyConfig::Kind::kSocks5, "p", 1, "", ""};
  EXPECT_EQ(proxy::Socks5Greeting(anon), (base::Bytes{5, 1, 0}));
  EXPECT_EQ(proxy::Socks5Greeting(WithAuth()), (base::Bytes{5, 2, 0, 2}));
  EXPECT_EQ(*proxy::ParseSocks5Choice(base::Bytes{5, 0}, anon), 0);
  EXPECT_EQ(*proxy::ParseSocks5Choice(base::Bytes{5, 2}, WithAuth()), 2);
  EXPECT_EQ(proxy::ParseSocks5Choice(base::Bytes{5, 2}, anon).error(), MakeError(Errc::kProxyAuthFailed));
  EXPECT_EQ(proxy::ParseSocks5Choice(base::Bytes{5, 0xFF}, WithAuth()).error(),
            MakeError(Errc::kProxyAuthFailed));
  EXPECT_EQ(proxy::ParseSocks5Choice(base::Bytes{4, 0}, anon).error(), MakeError(Errc::kProxyProtocol));
}

TEST(Socks5, Auth) {
  EXPECT_EQ(proxy::Socks5Auth(WithAuth()),
            (base::Bytes{1, 4, 'u', 's', 'e', 'r', 6, 's', 'e', 'c', 'r', 'e', 't'}));
  EXPECT_TRUE(proxy::ParseSocks5AuthStatus(base::Bytes{1, 0}));
  EXPECT_EQ(proxy::ParseSocks5AuthStatus(base::Bytes{1, 1}).error(), MakeError(Errc::kProxyAuthFailed));
}

TEST(Socks5, Connect) {
  EXPECT_EQ(proxy::Socks5Connect("127.0.0.1", 443), (base::Bytes{5, 1, 0, 1, 127, 0, 0, 1, 1, 0xBB}));
  base::Bytes domain{5, 1, 0, 3, 3, 'a', '.', 'b', 0x1F, 0x90};
  EXPECT_EQ(proxy::Socks5Connect("a.b", 8080), domain);
  auto v6 = proxy::Socks5Connect("::1", 1);
  ASSERT_EQ(v6.size(), 4u + 16 + 2);
  EXPECT_EQ(v6[3], 4);
  EXPECT_EQ(v6[19], 1);
}

TEST(Socks5, ReplyHead) {
  EXPECT_EQ(*proxy::ParseSocks5ReplyHead(base::Bytes{5, 0, 0, 1, 10}), 5u);
  EXPECT_EQ(*proxy::ParseSocks5ReplyHead(base::Bytes{5, 0, 0, 4, 0}), 17u);
  EXPECT_EQ(*proxy::ParseSocks5ReplyHead(base::Bytes{5, 0, 0, 3, 9}), 11u);
  EXPECT_EQ(proxy::ParseSocks5ReplyHead(base::Bytes{5, 5, 0, 1, 0}).error(), MakeError(Errc::kProxyRefused));
  EXPECT_EQ(proxy::ParseSocks5ReplyHead(base::Bytes{5, 0, 0, 7, 0}).error(), MakeError(Errc::kProxyProtocol));
  EXPECT_EQ(proxy::ParseSocks5ReplyHead(base::Bytes{4, 0, 0, 1, 0}).error(), MakeError(Errc::kProxyProtocol));
}

}  // namespace
}  // namespace wa::client
