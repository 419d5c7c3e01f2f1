// Upload and download through the in-memory media host (wa/testing/fake_media_host.h).
#include "wa/media/transfer.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "wa/media/errors.h"
#include "wa/testing/fake_media_host.h"

namespace wa::media {
namespace {

namespace asio = boost::asio;
using base::Bytes;

template <class T>
T RunTask(asio::awaitable<T> task) {
  asio::io_context ioc;
  std::optional<T> out;
  asio::co_spawn(ioc, std::move(task), [&](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);
    out.emplace(std::move(value));
  });
  ioc.run();
  return std::move(*out);
}

Bytes Payload(std::size_t n) {
  Bytes p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(i * 31 + 5);
  return p;
}

class Transfer : public ::testing::Test {
 protected:
  testing::FakeMediaHost host_{"sesame"};
  MediaConn conn_{"sesame",
                  300,
                  21600,
                  12,
                  {{"first.example", std::nullopt}, {"second.example", std::nullopt}}};

  // Downloads into a buffer; the result's error or the bytes.
  base::Result<Bytes> Fetch(const std::string& url, const UploadedMedia& up, MediaType type,
                            Expected expected, std::uint64_t max = 1 << 30) {
    auto keys = *ExpandMediaKey(up.media_key, type);
    Bytes got;
    BodySink sink = [&got](int, base::ByteView chunk) -> base::Result<void> {
      got.insert(got.end(), chunk.begin(), chunk.end());
      return {};
    };
    auto r = RunTask(Download(host_, url, keys, expected, sink, max));
    if (!r) return r.error();
    return got;
  }
  Expected From(const UploadedMedia& up) {
    return {up.hashes.file_enc_sha256, up.hashes.file_sha256, up.hashes.file_length};
  }
};

TEST_F(Transfer, RoundTripThroughTheFirstHost) {
  Bytes plain = Payload(5000);
  auto up = RunTask(EncryptAndUpload(host_, conn_, MediaType::kDocument, plain));
  ASSERT_TRUE(up.has_value()) << up.error().message();
  ASSERT_EQ(host_.log.size(), 1u);
  EXPECT_EQ(host_.log[0].substr(0, 35), "POST first.example/mms/document/" +
                                            UploadToken(up->hashes.file_enc_sha256).substr(0, 3));
  EXPECT_EQ(up->location.url.substr(0, 22), "https://first.example/");
  EXPECT_EQ(up->location.direct_path.substr(0, 3), "/v/");
  EXPECT_EQ(up->hashes.file_length, plain.size());
  EXPECT_EQ(up->media_key.size(), 32u);

  // By the url, and by host + direct path (the query is ignored by the host).
  auto by_url = Fetch(up->location.url, *up, MediaType::kDocument, From(*up));
  ASSERT_TRUE(by_url.has_value()) << by_url.error().message();
  EXPECT_EQ(*by_url, plain);
  auto direct = DownloadUrl("second.example", up->location.direct_path);
  auto by_path = Fetch(*direct, *up, MediaType::kDocument, From(*up));
  ASSERT_TRUE(by_path.has_value());
  EXPECT_EQ(*by_path, plain);
}

TEST_F(Transfer, NextHostWhenOneFails) {
  host_.failing_hosts.insert("first.example");
  auto up = RunTask(EncryptAndUpload(host_, conn_, MediaType::kImage, Payload(100)));
  ASSERT_TRUE(up.has_value()) << up.error().message();
  ASSERT_EQ(host_.log.size(), 2u);
  EXPECT_EQ(up->location.url.substr(0, 23), "https://second.example/");
  host_.failing_hosts.insert("second.example");
  auto none = RunTask(EncryptAndUpload(host_, conn_, MediaType::kImage, Payload(100)));
  EXPECT_EQ(none.error(), Errc::kUploadRejected);
}

TEST_F(Transfer, HostRefusesAWrongTokenOrAuth) {
  Bytes plain = Payload(64);
  auto keys = *ExpandMediaKey(Bytes(32, 3), MediaType::kImage);
  auto file = std::make_shared<EncryptedFile>(Encrypt(plain, keys));
  BodyFactory open = [file]() -> BodySource {
    auto sent = std::make_shared<bool>(false);
    return [file, sent](std::span<std::uint8_t> buf) -> base::Result<std::size_t> {
      if (*sent) return std::size_t{0};
      *sent = true;
      std::copy(file->data.begin(), file->data.end(), buf.begin());
      return file->data.size();
    };
  };
  host_.chunk = 4096;  // one read takes the whole body
  FileHashes lie = file->hashes;
  lie.file_enc_sha256[0] ^= 1;  // the token names another file
  EXPECT_EQ(RunTask(Upload(host_, conn_, MediaType::kImage, lie, open)).error(),
            Errc::kUploadRejected);
  EXPECT_TRUE(host_.blobs.empty());
  MediaConn wrong_auth = conn_;
  wrong_auth.auth = "guess";
  EXPECT_EQ(RunTask(Upload(host_, wrong_auth, MediaType::kImage, file->hashes, open)).error(),
            Errc::kUploadRejected);
  EXPECT_TRUE(RunTask(Upload(host_, conn_, MediaType::kImage, file->hashes, open)).has_value());
  EXPECT_EQ(RunTask(Upload(host_, conn_, MediaType::kThumbnailVideo, file->hashes, open)).error(),
            Errc::kNoUploadPath);
}

TEST_F(Transfer, HostSizeLimitSkipsTheHost) {
  conn_.hosts[0].max_content_length = 50;
  auto up = RunTask(EncryptAndUpload(host_, conn_, MediaType::kVideo, Payload(100)));
  ASSERT_TRUE(up.has_value());
  EXPECT_EQ(up->location.url.substr(0, 23), "https://second.example/");
  conn_.hosts[1].max_content_length = 50;
  EXPECT_EQ(RunTask(EncryptAndUpload(host_, conn_, MediaType::kVideo, Payload(100))).error(),
            Errc::kTooLarge);
}

TEST_F(Transfer, DownloadFailures) {
  Bytes plain = Payload(1000);
  auto up = RunTask(EncryptAndUpload(host_, conn_, MediaType::kAudio, plain));
  ASSERT_TRUE(up.has_value());
  std::string path = up->location.direct_path.substr(0, up->location.direct_path.find('?'));
  ASSERT_TRUE(host_.blobs.count(path));

  EXPECT_EQ(Fetch(up->location.url, *up, MediaType::kAudio, From(*up), 500).error(),
            Errc::kTooLarge);
  // The wrong type's keys.
  EXPECT_EQ(Fetch(up->location.url, *up, MediaType::kVideo, From(*up)).error(), Errc::kMacMismatch);
  host_.blobs[path][7] ^= 1;
  EXPECT_EQ(Fetch(up->location.url, *up, MediaType::kAudio, From(*up)).error(),
            Errc::kEncHashMismatch);
  host_.blobs.erase(path);
  EXPECT_EQ(Fetch(up->location.url, *up, MediaType::kAudio, From(*up)).error(), Errc::kMediaGone);
  host_.failing_hosts.insert("first.example");
  EXPECT_EQ(Fetch(up->location.url, *up, MediaType::kAudio, From(*up)).error(),
            Errc::kDownloadFailed);
  EXPECT_EQ(Fetch("ftp://x/y", *up, MediaType::kAudio, From(*up)).error(), Errc::kBadUrl);
}

}  // namespace
}  // namespace wa::media
