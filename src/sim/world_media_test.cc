// Media between two simulated phones in one World: the sender fetches a file from a loopback HTTP
// server (a one-shot server in this test), encrypts and uploads it to the media host, and the
// recipient downloads and verifies it; non-loopback URLs and failed fetches are refused.
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "sim/world.h"
#include "wa/crypto/crypto.h"

namespace sim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr const char* kAlice = "15550001111";
constexpr const char* kBob = "15550002222";

// Answers one HTTP request on `acceptor` with `body` (status 200) or 404 when `body` is empty.
asio::awaitable<void> ServeOnce(tcp::acceptor& acceptor, std::string body, std::string type) {
  auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  http::request<http::string_body> req;
  auto [rec, n] =
      co_await http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
  if (rec) co_return;
  http::response<http::string_body> res{body.empty() ? http::status::not_found : http::status::ok,
                                        11};
  if (!type.empty()) res.set(http::field::content_type, type);
  res.body() = std::move(body);
  res.prepare_payload();
  auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
  (void)wec;
}

class WasimMedia : public ::testing::Test {
 protected:
  WasimMedia()
      : world_(ioc_.get_executor(),
               {.noise_root = wa::crypto::GenerateKeyPair(),
                .idle_timeout = std::chrono::milliseconds(0),
                .media = {.host = "127.0.0.1:7443", .max_upload_bytes = 4096}}),
        acceptor_(ioc_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    EXPECT_TRUE(world_.CreatePhone(kAlice, "Alice"));
    EXPECT_TRUE(world_.CreatePhone(kBob, "Bob"));
  }

  std::string FileUrl(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + path;
  }

  // Serves `body` once and has Alice send it to Bob; runs everything to completion.
  ControlResult<World::SentInfo> Send(World::MediaSend media, std::string body,
                                      std::string type = "") {
    asio::co_spawn(ioc_, ServeOnce(acceptor_, std::move(body), std::move(type)), asio::detached);
    std::optional<ControlResult<World::SentInfo>> out;
    asio::co_spawn(ioc_, world_.SendMedia(kAlice, kBob, std::move(media)),
                   [&](std::exception_ptr e, ControlResult<World::SentInfo> r) {
                     if (e) std::rethrow_exception(e);
                     out.emplace(std::move(r));
                     acceptor_.cancel();  // a refused request never reached the server
                   });
    ioc_.restart();
    ioc_.run();
    return std::move(*out);
  }

  const InboxEntry* Received(const std::string& id) {
    return world_.phone_client(kBob)->FindInbox(id);
  }

  static std::string Hex(const std::string& s) {
    return base::ToHex(wa::crypto::Sha256(base::AsBytes(s)));
  }

  asio::io_context ioc_;
  World world_;
  tcp::acceptor acceptor_;
};

TEST_F(WasimMedia, PhoneSendsAnImageTheOtherVerifiesIt) {
  std::string image(3000, '\0');
  for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<char>(i * 11);
  World::MediaSend media{.type = "image", .url = FileUrl("/a.jpg"), .caption = "look"};
  auto sent = Send(media, image, "image/png");
  ASSERT_TRUE(sent) << sent.error().code << ": " << sent.error().detail;
  const InboxEntry* got = Received(sent->id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->type, "media");
  ASSERT_TRUE(got->media.has_value());
  EXPECT_EQ(got->media->type, "image");
  EXPECT_EQ(got->media->mime, "image/png");  // the server's Content-Type
  EXPECT_EQ(got->media->size, image.size());
  EXPECT_EQ(got->media->sha256, Hex(image));
  EXPECT_EQ(got->media->caption, "look");
  EXPECT_TRUE(got->media->error.empty());
  EXPECT_EQ(world_.media().stats().uploads, 1u);
  EXPECT_EQ(world_.media().stats().downloads, 1u);
  EXPECT_EQ(world_.media().blob_count(), 1u);
}

TEST_F(WasimMedia, DocumentAndVoiceNoteFields) {
  World::MediaSend doc{
      .type = "document", .url = FileUrl("/r"), .file_name = "r.pdf", .mime = "application/pdf"};
  auto sent = Send(doc, "%PDF-1.4 ...", "application/octet-stream");
  ASSERT_TRUE(sent);
  const InboxEntry* got = Received(sent->id);
  ASSERT_TRUE(got && got->media);
  EXPECT_EQ(got->media->mime, "application/pdf");  // the request's mime wins
  EXPECT_EQ(got->media->file_name, "r.pdf");
  EXPECT_EQ(got->media->sha256, Hex("%PDF-1.4 ..."));

  World::MediaSend voice{.type = "audio", .url = FileUrl("/v"), .ptt = true, .seconds = 4};
  sent = Send(voice, "OggS....", "");
  ASSERT_TRUE(sent);
  got = Received(sent->id);
  ASSERT_TRUE(got && got->media);
  EXPECT_TRUE(got->media->ptt);
  EXPECT_EQ(got->media->mime, "audio/ogg; codecs=opus");
  EXPECT_EQ(got->media->sha256, Hex("OggS...."));
}

TEST_F(WasimMedia, RefusedRequests) {
  auto code = [this](World::MediaSend m, std::string body = "x") {
    auto r = Send(std::move(m), std::move(body));
    return r ? std::string("ok") : r.error().code;
  };
  EXPECT_EQ(code({.type = "image", .url = "http://192.168.1.1/a"}), "media_url_not_allowed");
  EXPECT_EQ(code({.type = "image", .url = "https://example.com/a"}), "media_url_not_allowed");
  EXPECT_EQ(code({.type = "image", .url = "file:///etc/passwd"}), "invalid_media_url");
  EXPECT_EQ(code({.type = "gif", .url = FileUrl("/a")}), "invalid_media_type");
  EXPECT_EQ(code({.type = "video", .url = FileUrl("/a"), .ptt = true}), "invalid_media");
  EXPECT_EQ(code({.type = "image", .url = FileUrl("/missing")}, ""), "media_fetch_failed");
  EXPECT_EQ(code({.type = "image", .url = FileUrl("/big")}, std::string(5000, 'b')),
            "media_too_large");
  EXPECT_EQ(world_.media().stats().uploads, 0u);
  EXPECT_EQ(code({.type = "sticker", .url = FileUrl("/s.webp")}), "ok");
}

}  // namespace
}  // namespace sim
