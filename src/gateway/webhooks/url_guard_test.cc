#include "gateway/webhooks/url_guard.h"

#include <gtest/gtest.h>

namespace gateway::webhooks {
namespace {

AddressClass C(const char* text) { return Classify(boost::asio::ip::make_address(text)); }

TEST(UrlGuard, ClassifiesAddresses) {
  EXPECT_EQ(C("8.8.8.8"), AddressClass::kPublic);
  EXPECT_EQ(C("2606:4700::1111"), AddressClass::kPublic);
  EXPECT_EQ(C("127.0.0.1"), AddressClass::kLoopback);
  EXPECT_EQ(C("127.255.0.9"), AddressClass::kLoopback);
  EXPECT_EQ(C("::1"), AddressClass::kLoopback);
  EXPECT_EQ(C("10.1.2.3"), AddressClass::kPrivate);
  EXPECT_EQ(C("172.16.0.1"), AddressClass::kPrivate);
  EXPECT_EQ(C("172.31.255.255"), AddressClass::kPrivate);
  EXPECT_EQ(C("172.32.0.1"), AddressClass::kPublic);
  EXPECT_EQ(C("192.168.1.1"), AddressClass::kPrivate);
  EXPECT_EQ(C("fd12:3456::1"), AddressClass::kPrivate);
  EXPECT_EQ(C("169.254.169.254"), AddressClass::kLinkLocal);
  EXPECT_EQ(C("fe80::1"), AddressClass::kLinkLocal);
  EXPECT_EQ(C("0.0.0.0"), AddressClass::kUnspecified);
  EXPECT_EQ(C("::"), AddressClass::kUnspecified);
  EXPECT_EQ(C("224.0.0.1"), AddressClass::kMulticast);
  EXPECT_EQ(C("ff02::1"), AddressClass::kMulticast);
  EXPECT_EQ(C("100.64.0.1"), AddressClass::kCgnat);
  EXPECT_EQ(C("100.127.255.255"), AddressClass::kCgnat);
  EXPECT_EQ(C("100.128.0.1"), AddressClass::kPublic);
  EXPECT_EQ(C("255.255.255.255"), AddressClass::kReserved);
  EXPECT_EQ(C("192.0.2.1"), AddressClass::kReserved);
  EXPECT_EQ(C("2001:db8::1"), AddressClass::kReserved);
}

TEST(UrlGuard, SeesThroughIpv4InIpv6) {
  EXPECT_EQ(C("::ffff:127.0.0.1"), AddressClass::kLoopback);
  EXPECT_EQ(C("::ffff:10.0.0.1"), AddressClass::kPrivate);
  EXPECT_EQ(C("::ffff:169.254.169.254"), AddressClass::kLinkLocal);
  EXPECT_EQ(C("::ffff:8.8.8.8"), AddressClass::kPublic);
  EXPECT_EQ(C("64:ff9b::a00:1"), AddressClass::kPrivate);    // NAT64 of 10.0.0.1
  EXPECT_EQ(C("2002:7f00:1::"), AddressClass::kLoopback);    // 6to4 of 127.0.0.1
  EXPECT_EQ(C("::127.0.0.1"), AddressClass::kLoopback);      // IPv4-compatible
  EXPECT_EQ(C("::8.8.8.8"), AddressClass::kReserved);
}

TEST(UrlGuard, AllowlistOfBlocksAndHosts) {
  std::string err;
  auto allow = Allowlist::Parse("127.0.0.0/8, ::1 10.1.0.0/16,hooks.internal", &err);
  ASSERT_TRUE(allow) << err;
  auto a = [](const char* t) { return boost::asio::ip::make_address(t); };
  EXPECT_TRUE(allow->Allows(a("127.0.0.1")));
  EXPECT_TRUE(allow->Allows(a("::ffff:127.0.0.2")));
  EXPECT_TRUE(allow->Allows(a("::1")));
  EXPECT_TRUE(allow->Allows(a("10.1.200.3")));
  EXPECT_FALSE(allow->Allows(a("10.2.0.1")));
  EXPECT_TRUE(allow->AllowsHost("Hooks.Internal"));
  EXPECT_TRUE(AddressAllowed(a("10.9.9.9"), "hooks.internal", *allow));
  EXPECT_FALSE(AddressAllowed(a("10.9.9.9"), "other.internal", *allow));
  EXPECT_FALSE(Allowlist::Parse("10.0.0.0/33", &err));
  EXPECT_FALSE(Allowlist::Parse("bad host!", &err));
  EXPECT_TRUE(Allowlist::Parse("", &err)->empty());
}

TEST(UrlGuard, ParsesUrls) {
  Allowlist none;
  auto u = ParseWebhookUrl("https://Example.com/hooks/in?x=1", none);
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->https);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/hooks/in?x=1");
  EXPECT_EQ(u->host_header, "example.com");
  auto p = ParseWebhookUrl("http://example.com:8080", none);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->target, "/");
  EXPECT_EQ(p->host_header, "example.com:8080");
  auto v6 = ParseWebhookUrl("http://[2606:4700::1111]:81/x", none);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "2606:4700::1111");
  EXPECT_EQ(v6->host_header, "[2606:4700::1111]:81");

  for (const char* bad : {"ftp://example.com/", "example.com/hook", "https://user:pw@example.com/",
                          "https:///nohost", "https://example.com/#frag", ""}) {
    auto r = ParseWebhookUrl(bad, none);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "invalid_url") << bad;
  }
  for (const char* refused : {"http://127.0.0.1/", "http://[::1]:9000/", "http://10.0.0.5/",
                              "http://169.254.169.254/latest/meta-data", "http://[::ffff:192.168.0.1]/",
                              "http://0.0.0.0:80/"}) {
    auto r = ParseWebhookUrl(refused, none);
    ASSERT_FALSE(r) << refused;
    EXPECT_EQ(r.error().code, "url_not_allowed") << refused;
  }
  std::string err;
  auto loopback = Allowlist::Parse("127.0.0.0/8", &err);
  EXPECT_TRUE(ParseWebhookUrl("http://127.0.0.1:9/", *loopback));
}

}  // namespace
}  // namespace gateway::webhooks
