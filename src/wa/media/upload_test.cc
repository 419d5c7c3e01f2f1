#include "wa/media/upload.h"

#include <gtest/gtest.h>

#include "wa/crypto/crypto.h"
#include "wa/media/errors.h"

namespace wa::media {
namespace {

using binary::Node;

// A digest whose base64 has both '+' and '/' (0xfb 0xff -> "+/8"), so the URL-safe form differs.
crypto::Digest32 AwkwardDigest() {
  crypto::Digest32 d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::uint8_t>(i % 2 ? 0xff : 0xfb);
  return d;
}

TEST(UploadToken, UrlSafeUnpaddedAndBothFormsMatch) {
  auto digest = AwkwardDigest();
  std::string std64 = base::ToBase64(digest);
  ASSERT_NE(std64.find('+'), std::string::npos);
  ASSERT_NE(std64.find('/'), std::string::npos);
  ASSERT_EQ(std64.back(), '=');
  std::string expected = std64;
  for (char& c : expected) c = c == '+' ? '-' : c == '/' ? '_' : c;
  expected.pop_back();
  EXPECT_EQ(UploadToken(digest), expected);
  EXPECT_TRUE(TokenMatches(expected, digest));
  EXPECT_TRUE(TokenMatches(expected + "=", digest));    // whatsmeow, in the path
  EXPECT_TRUE(TokenMatches(expected + "%3D", digest));  // whatsmeow, query-encoded
  EXPECT_FALSE(TokenMatches(expected + "==", digest));
  EXPECT_FALSE(TokenMatches(std64, digest));  // standard alphabet: not a token
  EXPECT_FALSE(TokenMatches("", digest));
  EXPECT_FALSE(TokenMatches(expected + "%3", digest));
  auto other = digest;
  other[0] ^= 1;
  EXPECT_FALSE(TokenMatches(expected, other));
}

TEST(UploadUrl, BaileysShape) {
  auto digest = AwkwardDigest();
  std::string token = UploadToken(digest);
  auto url = UploadUrl("mmg.whatsapp.net", MediaType::kImage, digest, "AbC/+=:x");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(*url, "https://mmg.whatsapp.net/mms/image/" + token +
                      "?auth=AbC%2F%2B%3D%3Ax&token=" + token);
  auto ptt = UploadUrl("127.0.0.1:7443", MediaType::kPtt, digest, "a");
  ASSERT_TRUE(ptt.has_value());
  EXPECT_EQ(ptt->substr(0, 38), "https://127.0.0.1:7443/mms/audio/" + token.substr(0, 5));
  EXPECT_EQ(UploadUrl("h", MediaType::kThumbnailImage, digest, "a").error(), Errc::kNoUploadPath);
  EXPECT_EQ(UploadUrl("", MediaType::kImage, digest, "a").error(), Errc::kBadUrl);
  EXPECT_EQ(UploadUrl("a/b", MediaType::kImage, digest, "a").error(), Errc::kBadUrl);
}

TEST(UploadUrl, PercentEncodingIsEncodeUriComponent) {
  EXPECT_EQ(PercentEncode("az AZ09-_.!~*'()"), "az%20AZ09-_.!~*'()");
  EXPECT_EQ(PercentEncode("a+b/c=d&e?f#g%"), "a%2Bb%2Fc%3Dd%26e%3Ff%23g%25");
  EXPECT_EQ(PercentEncode("\xc3\xa9"), "%C3%A9");
  EXPECT_EQ(PercentDecode("a%2Bb%2fc+d"), "a+b/c+d");
  EXPECT_FALSE(PercentDecode("%").has_value());
  EXPECT_FALSE(PercentDecode("%4").has_value());
  EXPECT_FALSE(PercentDecode("%zz").has_value());
  for (std::string s : {"", "x", "a b+c/d=e", "\x01\xff%"}) {
    EXPECT_EQ(PercentDecode(PercentEncode(s)), s);
  }
}

TEST(UploadTarget, BaileysAndWhatsmeowForms) {
  auto digest = AwkwardDigest();
  std::string token = UploadToken(digest);
  auto baileys = ParseUploadTarget("/mms/image/" + token + "?auth=A%2FB&token=" + token);
  ASSERT_TRUE(baileys.has_value());
  EXPECT_EQ(baileys->prefix, "/mms/image");
  EXPECT_EQ(baileys->kind, "image");
  EXPECT_EQ(baileys->auth, "A/B");
  EXPECT_TRUE(TokenMatches(baileys->path_token, digest));
  EXPECT_TRUE(TokenMatches(baileys->query_token, digest));

  auto whatsmeow =
      ParseUploadTarget("/mms/md-msg-hist/" + token + "=?auth=A&token=" + token + "%3D");
  ASSERT_TRUE(whatsmeow.has_value());
  EXPECT_EQ(whatsmeow->kind, "md-msg-hist");
  EXPECT_EQ(whatsmeow->path_token, token + "=");
  EXPECT_EQ(whatsmeow->query_token, token + "=");
  EXPECT_TRUE(TokenMatches(whatsmeow->query_token, digest));

  auto bare = ParseUploadTarget("/product/image/" + token);
  ASSERT_TRUE(bare.has_value());
  EXPECT_EQ(bare->kind, "image");
  EXPECT_TRUE(bare->auth.empty());
  EXPECT_TRUE(bare->query_token.empty());

  for (std::string bad : {"", "/", "/x", "/mms/image/", "mms/image/t", "/mms/image/%zz"}) {
    EXPECT_FALSE(ParseUploadTarget(bad).has_value()) << bad;
  }
}

TEST(DownloadUrl, DirectPathAndChoice) {
  EXPECT_EQ(DownloadUrl("mmg.whatsapp.net", "/v/t62.7118-24/1.enc?ccb=11-4"),
            "https://mmg.whatsapp.net/v/t62.7118-24/1.enc?ccb=11-4");
  EXPECT_EQ(DownloadUrl("h", "v/1").error(), Errc::kBadUrl);
  // whatsmeow: the message's url unless it is on web.whatsapp.net or missing.
  EXPECT_EQ(ChooseDownloadUrl("https://127.0.0.1:9/v/1.enc?a=1", "/v/2", "mmg.whatsapp.net"),
            "https://127.0.0.1:9/v/1.enc?a=1");
  EXPECT_EQ(ChooseDownloadUrl("https://web.whatsapp.net/x", "/v/2", "mmg.whatsapp.net"),
            "https://mmg.whatsapp.net/v/2");
  EXPECT_EQ(ChooseDownloadUrl("", "/v/2", "h:1"), "https://h:1/v/2");
  EXPECT_EQ(ChooseDownloadUrl("", "", "h").error(), Errc::kBadUrl);
}

TEST(SplitUrl, Parts) {
  auto a = SplitUrl("https://127.0.0.1:7443/v/t62/1.enc?x=1#frag");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->scheme, "https");
  EXPECT_EQ(a->host, "127.0.0.1:7443");
  EXPECT_EQ(a->target, "/v/t62/1.enc?x=1");
  auto b = SplitUrl("http://[::1]:80?q");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->host, "[::1]:80");
  EXPECT_EQ(b->target, "/?q");
  for (std::string bad :
       {"ftp://h/x", "https://", "https:///x", "https://h/a b", "h/x", "https://user@h/x"}) {
    EXPECT_FALSE(SplitUrl(bad).has_value()) << bad;
  }
}

TEST(MediaConn, QueryShape) {
  Node q = MediaConnQuery("42");
  EXPECT_EQ(q.tag, "iq");
  EXPECT_EQ(q.AttrOr("id"), "42");
  EXPECT_EQ(q.AttrOr("xmlns"), "w:m");
  EXPECT_EQ(q.AttrOr("type"), "set");
  EXPECT_EQ(q.GetJid("to"), binary::Jid::Server());  // Baileys' S_WHATSAPP_NET
  ASSERT_EQ(q.children().size(), 1u);
  EXPECT_EQ(q.children()[0].tag, "media_conn");
}

TEST(MediaConn, ElementRoundTripsAndParsesFromIq) {
  MediaConn conn{"auth==",
                 300,
                 21600,
                 12,
                 {{"127.0.0.1:7443", 104857600}, {"mmg-fallback.whatsapp.net", std::nullopt}}};
  Node iq("iq", {{"type", "result"}, {"id", "1"}}, {MediaConnElement(conn)});
  auto parsed = ParseMediaConn(iq);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  EXPECT_EQ(parsed->auth, "auth==");
  EXPECT_EQ(parsed->ttl, 300);
  EXPECT_EQ(parsed->auth_ttl, 21600);
  EXPECT_EQ(parsed->max_buckets, 12);
  ASSERT_EQ(parsed->hosts.size(), 2u);
  EXPECT_EQ(parsed->hosts[0].hostname, "127.0.0.1:7443");
  EXPECT_EQ(parsed->hosts[0].max_content_length, 104857600u);
  EXPECT_FALSE(parsed->hosts[1].max_content_length.has_value());
}

TEST(MediaConn, StrictLikeWhatsmeow) {
  auto with = [](std::vector<binary::Attr> attrs, Node::Children hosts) {
    return ParseMediaConn(Node("iq", {}, {Node("media_conn", std::move(attrs), std::move(hosts))}));
  };
  Node host("host", {{"hostname", "h"}});
  std::vector<binary::Attr> full{
      {"auth", "a"}, {"ttl", "1"}, {"auth_ttl", "2"}, {"max_buckets", "3"}};
  EXPECT_TRUE(with(full, {host}).has_value());
  for (std::size_t drop = 0; drop < full.size(); ++drop) {
    auto attrs = full;
    attrs.erase(attrs.begin() + static_cast<long>(drop));
    EXPECT_EQ(with(attrs, {host}).error(), Errc::kBadMediaConn) << full[drop].key;
  }
  auto bad_ttl = full;
  bad_ttl[1].value = "soon";
  EXPECT_EQ(with(bad_ttl, {host}).error(), Errc::kBadMediaConn);
  EXPECT_EQ(with(full, {}).error(), Errc::kNoHosts);
  EXPECT_EQ(with(full, {Node("host")}).error(), Errc::kBadMediaConn);
  EXPECT_EQ(ParseMediaConn(Node("iq")).error(), Errc::kBadMediaConn);
}

TEST(UploadResponse, Fields) {
  auto r = ParseUploadResponse(
      R"({"url":"https://h/v/1.enc?a=1&mms3=true","direct_path":"/v/1.enc?a=1","meta_hmac":"m","fbid":123,"ts":1700000000})");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->url, "https://h/v/1.enc?a=1&mms3=true");
  EXPECT_EQ(r->direct_path, "/v/1.enc?a=1");
  EXPECT_EQ(r->meta_hmac, "m");
  EXPECT_EQ(r->fbid, "123");
  EXPECT_EQ(r->ts, "1700000000");
  EXPECT_TRUE(ParseUploadResponse(R"({"direct_path":"/v/1"})").has_value());
  EXPECT_TRUE(ParseUploadResponse(R"({"handle":"x","url":"u"})").has_value());
  for (std::string bad : {"", "[]", "{}", R"({"error":"x"})", R"({"url":5})", "{"}) {
    EXPECT_EQ(ParseUploadResponse(bad).error(), Errc::kBadUploadResponse) << bad;
  }
}

}  // namespace
}  // namespace wa::media
