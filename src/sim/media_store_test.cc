// wasim's media host without sockets: media_conn auths, upload checks (auth, token forms, sizes),
// the bounded LRU store, and the HTTP answers (upload JSON, downloads by path or URL, ranges).
#include "sim/media_store.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "sim/media_http.h"
#include "wa/crypto/crypto.h"

namespace sim {
namespace {

using Clock = std::chrono::steady_clock;

std::string Body(std::size_t n, char seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 7);
  return s;
}

std::string Token(const std::string& body) {
  return wa::media::UploadToken(wa::crypto::Sha256(base::AsBytes(body)));
}

class MediaHost : public ::testing::Test {
 protected:
  MediaOptions Options() {
    MediaOptions o;
    o.host = "127.0.0.1:7443";
    o.max_upload_bytes = 1000;
    o.capacity_bytes = 2500;
    return o;
  }
  std::string Target(const std::string& token, const std::string& auth,
                     std::string kind = "image") {
    return "/mms/" + kind + "/" + token + "?auth=" + wa::media::PercentEncode(auth) +
           "&token=" + token;
  }

  MediaStore store_{Options()};
  Clock::time_point now_ = Clock::now();
};

TEST_F(MediaHost, MediaConnHasEveryAttributeAndTheHost) {
  auto conn = store_.IssueConn(now_);
  EXPECT_GE(conn.auth.size(), 40u);
  EXPECT_EQ(conn.ttl, 300);
  EXPECT_EQ(conn.auth_ttl, 21600);
  EXPECT_GT(conn.max_buckets, 0);
  ASSERT_EQ(conn.hosts.size(), 1u);
  EXPECT_EQ(conn.hosts[0].hostname, "127.0.0.1:7443");
  EXPECT_EQ(conn.hosts[0].max_content_length, 1000u);
  auto element = wa::media::MediaConnElement(conn);
  auto parsed = wa::media::ParseMediaConn(element);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->auth, conn.auth);
  EXPECT_NE(store_.IssueConn(now_).auth, conn.auth);
  EXPECT_EQ(store_.stats().conns_issued, 2u);
}

TEST_F(MediaHost, UploadIsStoredAndFoundByPathOrUrl) {
  auto auth = store_.IssueConn(now_).auth;
  std::string body = Body(500, 'a');
  auto stored = store_.Upload(Target(Token(body), auth), body, now_);
  ASSERT_TRUE(stored.has_value()) << stored.error().message;
  EXPECT_EQ(stored->direct_path.substr(0, 16), "/v/t62.7118-24/0");
  EXPECT_NE(stored->direct_path.find("_n.enc?ccb=11-4&oh=01_"), std::string::npos);
  EXPECT_EQ(stored->url, "https://127.0.0.1:7443" + stored->direct_path + "&mms3=true");
  EXPECT_TRUE(stored->handle.empty());
  auto by_path = store_.Find(stored->direct_path);
  ASSERT_TRUE(by_path);
  EXPECT_EQ(*by_path, body);
  EXPECT_TRUE(store_.Find(stored->url));
  EXPECT_TRUE(store_.Find(stored->direct_path + "&hash=x&mms-type=image&__wa-mms="));
  EXPECT_FALSE(store_.Find("/v/t62.7118-24/other.enc"));
  EXPECT_EQ(store_.stats().uploads, 1u);
  EXPECT_EQ(store_.stats().downloads, 3u);
  EXPECT_EQ(store_.stats().download_misses, 1u);
  EXPECT_EQ(store_.stored_bytes(), 500u);
}

TEST_F(MediaHost, TokenFormsAndMismatches) {
  auto auth = store_.IssueConn(now_).auth;
  std::string body = Body(100, 'x');
  std::string token = Token(body);
  // whatsmeow: padded, query-encoded.
  EXPECT_TRUE(store_.Upload("/mms/md-msg-hist/" + token + "=?auth=" +
                                wa::media::PercentEncode(auth) + "&token=" + token + "%3D",
                            body, now_));
  // No query token at all is still checked by the path token.
  EXPECT_TRUE(
      store_.Upload("/mms/video/" + token + "?auth=" + wa::media::PercentEncode(auth), body, now_));
  std::string other = Token(Body(100, 'y'));
  auto mismatch = store_.Upload(Target(other, auth), body, now_);
  ASSERT_FALSE(mismatch.has_value());
  EXPECT_EQ(mismatch.error().status, 400);
  EXPECT_EQ(mismatch.error().code, "token_mismatch");
  // Path and query must both name the body.
  auto split = store_.Upload(
      "/mms/image/" + token + "?auth=" + wa::media::PercentEncode(auth) + "&token=" + other, body,
      now_);
  ASSERT_FALSE(split.has_value());
  EXPECT_EQ(split.error().code, "token_mismatch");
  std::string damaged = body;
  damaged[50] ^= 1;
  EXPECT_EQ(store_.Upload(Target(token, auth), damaged, now_).error().code, "token_mismatch");
  EXPECT_EQ(store_.stats().uploads, 2u);
  EXPECT_EQ(store_.stats().uploads_rejected, 3u);
}

TEST_F(MediaHost, AuthSizeAndPathChecks) {
  auto auth = store_.IssueConn(now_).auth;
  std::string body = Body(100, 'q');
  std::string token = Token(body);
  EXPECT_EQ(store_.Upload(Target(token, "guess"), body, now_).error().status, 401);
  EXPECT_EQ(store_.Upload("/mms/image/" + token, body, now_).error().status, 401);
  // Auths expire.
  EXPECT_EQ(store_.Upload(Target(token, auth), body, now_ + std::chrono::hours(7)).error().status,
            401);
  std::string big = Body(1001, 'b');
  EXPECT_EQ(store_.Upload(Target(Token(big), auth), big, now_).error().status, 413);
  EXPECT_EQ(store_.Upload(Target(Token(""), auth), "", now_).error().code, "empty_body");
  EXPECT_EQ(
      store_.Upload("/other/image/" + token + "?auth=" + wa::media::PercentEncode(auth), body, now_)
          .error()
          .status,
      404);
  EXPECT_EQ(store_.Upload("/mms/image/", body, now_).error().status, 400);
  // Newsletter uploads (unencrypted: the token is the plaintext's hash, the same check) get a
  // handle.
  auto news = store_.Upload("/newsletter/newsletter-image/" + token +
                                "?auth=" + wa::media::PercentEncode(auth) + "&token=" + token,
                            body, now_);
  ASSERT_TRUE(news.has_value());
  EXPECT_FALSE(news->handle.empty());
  EXPECT_EQ(store_.blob_count(), 1u);
}

TEST_F(MediaHost, LeastRecentlyUsedBlobsGoFirstBeyondTheCapacity) {
  auto auth = store_.IssueConn(now_).auth;
  std::vector<std::string> paths;
  for (char c : {'a', 'b'}) {
    std::string body = Body(1000, c);
    auto stored = store_.Upload(Target(Token(body), auth), body, now_);
    ASSERT_TRUE(stored.has_value());
    paths.push_back(stored->direct_path);
  }
  ASSERT_TRUE(store_.Find(paths[0]));  // a is now more recently used than b
  std::string body = Body(1000, 'c');
  auto third = store_.Upload(Target(Token(body), auth), body, now_);
  ASSERT_TRUE(third.has_value());
  EXPECT_TRUE(store_.Find(paths[0]));
  EXPECT_FALSE(store_.Find(paths[1]));
  EXPECT_TRUE(store_.Find(third->direct_path));
  EXPECT_EQ(store_.stats().evictions, 1u);
  EXPECT_EQ(store_.stored_bytes(), 2000u);
  EXPECT_LE(store_.stored_bytes(), Options().capacity_bytes);
}

TEST_F(MediaHost, EvictedBlobStaysReadableForADownloadInProgress) {
  auto auth = store_.IssueConn(now_).auth;
  std::string first = Body(1000, 'a');
  auto stored = store_.Upload(Target(Token(first), auth), first, now_);
  auto held = store_.Find(stored->direct_path);
  for (char c : {'b', 'c', 'd'}) {
    std::string body = Body(1000, c);
    ASSERT_TRUE(store_.Upload(Target(Token(body), auth), body, now_));
  }
  EXPECT_FALSE(store_.Find(stored->direct_path));
  EXPECT_EQ(*held, first);
}

TEST_F(MediaHost, HttpUploadAnswersJsonAndDownloadsServeRanges) {
  auto auth = store_.IssueConn(now_).auth;
  std::string body = Body(300, 'h');
  std::string target = Target(Token(body), auth);
  MediaReply up = HandleMediaRequest(store_, {"POST", target, "", body}, now_);
  ASSERT_EQ(up.status, 200u) << up.text;
  EXPECT_EQ(up.content_type, "application/json");
  auto json = boost::json::parse(up.text).as_object();
  std::string direct(json.at("direct_path").as_string());
  EXPECT_EQ(std::string(json.at("url").as_string()),
            "https://127.0.0.1:7443" + direct + "&mms3=true");

  MediaReply get = HandleMediaRequest(store_, {"GET", direct, "", ""}, now_);
  EXPECT_EQ(get.status, 200u);
  EXPECT_EQ(get.content_type, "application/octet-stream");
  ASSERT_TRUE(get.blob);
  EXPECT_EQ(get.blob->substr(get.offset, get.length), body);

  struct Case {
    const char* range;
    unsigned status;
    std::size_t offset, length;
  };
  for (auto c : {Case{"bytes=10-19", 206, 10, 10}, Case{"bytes=290-", 206, 290, 10},
                 Case{"bytes=-5", 206, 295, 5}, Case{"bytes=250-9999", 206, 250, 50},
                 Case{"bytes=0-0", 206, 0, 1}, Case{"items=1-2", 200, 0, 300},
                 Case{"bytes=1-2,5-6", 200, 0, 300}, Case{"bytes=9-3", 200, 0, 300}}) {
    MediaReply r = HandleMediaRequest(store_, {"GET", direct, c.range, ""}, now_);
    EXPECT_EQ(r.status, c.status) << c.range;
    EXPECT_EQ(r.offset, c.offset) << c.range;
    EXPECT_EQ(r.length, c.length) << c.range;
  }
  MediaReply ranged = HandleMediaRequest(store_, {"GET", direct, "bytes=10-19", ""}, now_);
  ASSERT_FALSE(ranged.headers.empty());
  bool has_range = false;
  for (const auto& [k, v] : ranged.headers) {
    if (k == "Content-Range") {
      EXPECT_EQ(v, "bytes 10-19/300");
      has_range = true;
    }
  }
  EXPECT_TRUE(has_range);
  EXPECT_EQ(HandleMediaRequest(store_, {"GET", direct, "bytes=300-", ""}, now_).status, 416u);
  EXPECT_EQ(HandleMediaRequest(store_, {"HEAD", direct, "", ""}, now_).body_size(), 300u);
  EXPECT_EQ(HandleMediaRequest(store_, {"GET", "/v/t62.7118-24/x.enc", "", ""}, now_).status, 404u);
  EXPECT_EQ(HandleMediaRequest(store_, {"POST", direct, "", body}, now_).status, 405u);
  EXPECT_EQ(HandleMediaRequest(store_, {"GET", target, "", ""}, now_).status, 405u);
  MediaReply refused =
      HandleMediaRequest(store_, {"POST", Target(Token("x"), auth), "", body}, now_);
  EXPECT_EQ(refused.status, 400u);
  EXPECT_EQ(boost::json::parse(refused.text).at("code").as_string(), "token_mismatch");
  EXPECT_TRUE(IsMediaPath("/mms/image/x"));
  EXPECT_TRUE(IsMediaPath("/v/t62/x"));
  EXPECT_FALSE(IsMediaPath("/ws/chat"));
  EXPECT_FALSE(IsMediaPath("/"));
}

}  // namespace
}  // namespace sim
