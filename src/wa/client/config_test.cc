#include "wa/client/config.h"

#include <gtest/gtest.h>

#include "wa/client/errors.h"

namespace wa::client {
namespace {

TEST(ProxyUrl, Http) {
  auto p = ParseProxyUrl("http://proxy.local:3128");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, ProxyConfig::Kind::kHttp);
  EXPECT_EQ(p->host, "proxy.local");
  EXPECT_EQ(p->port, 3128);
  EXPECT_TRUE(p->username.empty());
  auto d = ParseProxyUrl("HTTP://10.0.0.1");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->port, 80);
}

TEST(ProxyUrl, Socks5WithCredentials) {
  auto p = ParseProxyUrl("socks5://us%40er:p%3Ass@[::1]:1080/");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, ProxyConfig::Kind::kSocks5);
  EXPECT_EQ(p->host, "::1");
  EXPECT_EQ(p->port, 1080);
  EXPECT_EQ(p->username, "us@er");
  EXPECT_EQ(p->password, "p:ss");
  EXPECT_TRUE(ParseProxyUrl("socks5h://h:9"));
}

TEST(ProxyUrl, Rejects) {
  for (const char* bad : {"", "proxy:80", "ftp://h:1", "socks5://h", "http://h:0", "http://h:70000",
                          "http://:80", "http://u:p@", "http://h:80/path", "socks5://:pw@h:1",
                          "http://h:8x", "http://u:%zz@h:1"}) {
    auto p = ParseProxyUrl(bad);
    EXPECT_FALSE(p) << bad;
    if (!p) {
      EXPECT_EQ(p.error(), MakeError(Errc::kBadProxyUrl)) << bad;
    }
  }
}

TEST(WebSocketUrl, Parses) {
  auto d = ParseWebSocketUrl("wss://web.whatsapp.com/ws/chat");
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->tls);
  EXPECT_EQ(d->host, "web.whatsapp.com");
  EXPECT_EQ(d->port, 443);
  EXPECT_EQ(d->target, "/ws/chat");
  EXPECT_EQ(d->HostHeader(), "web.whatsapp.com");

  auto s = ParseWebSocketUrl("ws://127.0.0.1:8765/ws/chat?ED=abc");
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->tls);
  EXPECT_EQ(s->port, 8765);
  EXPECT_EQ(s->target, "/ws/chat?ED=abc");
  EXPECT_EQ(s->HostHeader(), "127.0.0.1:8765");

  auto v6 = ParseWebSocketUrl("ws://[::1]:9/");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->HostHeader(), "[::1]:9");
  auto bare = ParseWebSocketUrl("wss://h");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->target, "/");

  for (const char* bad : {"http://h/", "ws://", "ws://u@h/", "ws://h:abc/", "h/ws"}) {
    EXPECT_FALSE(ParseWebSocketUrl(bad)) << bad;
  }
}

TEST(Backoff, GrowsWithJitterAndCaps) {
  Backoff b;  // 1 s, x2, cap 60 s, half jitter
  EXPECT_EQ(BackoffDelay(b, 1, 0.0).count(), 500);
  EXPECT_EQ(BackoffDelay(b, 1, 0.999999).count(), 999);
  EXPECT_EQ(BackoffDelay(b, 3, 0.0).count(), 2000);
  EXPECT_EQ(BackoffDelay(b, 20, 0.0).count(), 30'000);
  EXPECT_LE(BackoffDelay(b, 20, 1.0).count(), 60'000);
  b.jitter = 0;
  EXPECT_EQ(BackoffDelay(b, 2, 0.7).count(), 2000);
  EXPECT_EQ(BackoffDelay(b, 0, 0.7).count(), 1000);  // attempts below 1 count as 1
}

TEST(Config, Defaults) {
  Config c;
  EXPECT_EQ(c.url, "wss://web.whatsapp.com/ws/chat");
  EXPECT_EQ(c.origin, "https://web.whatsapp.com");
  EXPECT_EQ(c.trust_root, noise::kWhatsAppRootPublicKey);
  EXPECT_EQ(c.version.ToString(), "2.3000.1043857760");
  EXPECT_EQ(c.timeouts.connect.count(), 20'000);
  EXPECT_EQ(c.prekeys.initial_upload, 812u);
}

TEST(Config, TlsContext) {
  EXPECT_TRUE(MakeTlsContext(""));
  auto missing = MakeTlsContext("/nonexistent/ca.pem");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), MakeError(Errc::kTlsSetup));
}

}  // namespace
}  // namespace wa::client
