#include "gateway/webhooks/http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <set>

namespace gateway::webhooks {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

// A keep-alive HTTP/1.1 receiver on a free loopback port. `mode` says what it does after each
// response: keep the connection, close it (Connection: close), or close it silently once idle.
class Receiver {
 public:
  enum class Mode { kKeepAlive, kCloseEach, kDropWhenIdle };

  Receiver(asio::io_context& ioc, Mode mode) : acceptor_(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), mode_(mode) {
    asio::co_spawn(ioc, Accept(), [](std::exception_ptr) {});
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted() const { return accepted_; }
  int requests() const { return requests_; }
  void Stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto* s : open_) s->close(ec);
  }
  // Closes every idle server-side connection (kDropWhenIdle does it on request).
  void DropIdle() {
    boost::system::error_code ec;
    for (auto* s : open_) s->shutdown(tcp::socket::shutdown_both, ec);
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++accepted_;
      asio::co_spawn(acceptor_.get_executor(), Serve(std::move(socket)), [](std::exception_ptr) {});
    }
  }
  asio::awaitable<void> Serve(tcp::socket socket) {
    open_.insert(&socket);
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      auto [rec, n] = co_await bhttp::async_read(socket, buffer, req, asio::as_tuple(asio::use_awaitable));
      if (rec) break;
      ++requests_;
      bhttp::response<bhttp::string_body> res{bhttp::status::no_content, 11};
      res.keep_alive(mode_ != Mode::kCloseEach && req.keep_alive());
      res.prepare_payload();
      auto [wec, w] = co_await bhttp::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
      if (wec || !res.keep_alive()) break;
    }
    open_.erase(&socket);
    boost::system::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  tcp::acceptor acceptor_;
  Mode mode_;
  int accepted_ = 0;
  int requests_ = 0;
  std::set<tcp::socket*> open_;
};

class HttpClientTest : public ::testing::Test {
 protected:
  HttpClientTest() { allow_.AddCidr(asio::ip::make_address("127.0.0.0"), 8); }

  PostResult PostTo(HttpClient& client, std::uint16_t port) {
    auto url = ParseWebhookUrl("http://127.0.0.1:" + std::to_string(port) + "/hook", allow_);
    EXPECT_TRUE(url);
    std::optional<PostResult> out;
    std::vector<std::pair<std::string, std::string>> headers = {{"webhook-id", "msg_1"}};
    asio::co_spawn(ioc_, client.Post(*url, std::move(headers), R"({"n":1})"),
                   [&](std::exception_ptr e, PostResult r) {
                     if (e) std::rethrow_exception(e);
                     out = std::move(r);
                   });
    while (!out) ioc_.run_one();
    return *out;
  }

  asio::io_context ioc_;
  Allowlist allow_;
};

TEST_F(HttpClientTest, ReusesOneConnectionForSuccessivePosts) {
  Receiver receiver(ioc_, Receiver::Mode::kKeepAlive);
  HttpClient client(allow_, "", std::chrono::seconds(5));
  for (int i = 0; i < 5; ++i) {
    auto r = PostTo(client, receiver.port());
    EXPECT_EQ(r.status, 204) << r.error;
    EXPECT_EQ(r.reused, i > 0);
  }
  EXPECT_EQ(receiver.accepted(), 1);
  EXPECT_EQ(receiver.requests(), 5);
  EXPECT_EQ(client.connections_opened(), 1);
  EXPECT_EQ(client.connections_reused(), 4);
  EXPECT_EQ(client.idle_connections(), 1u);
  receiver.Stop();
}

TEST_F(HttpClientTest, AConnectionTheServerClosesIsNotReused) {
  Receiver receiver(ioc_, Receiver::Mode::kCloseEach);
  HttpClient client(allow_, "", std::chrono::seconds(5));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(PostTo(client, receiver.port()).status, 204);
  EXPECT_EQ(receiver.accepted(), 3);
  EXPECT_EQ(client.connections_opened(), 3);
  EXPECT_EQ(client.idle_connections(), 0u);
  receiver.Stop();
}

TEST_F(HttpClientTest, AnIdleConnectionClosedByTheServerIsReplaced) {
  Receiver receiver(ioc_, Receiver::Mode::kKeepAlive);
  HttpClient client(allow_, "", std::chrono::seconds(5));
  EXPECT_EQ(PostTo(client, receiver.port()).status, 204);
  receiver.DropIdle();
  // Let the server's close reach the client's socket.
  for (int i = 0; i < 100 && receiver.accepted() == 1; ++i) ioc_.poll();
  auto r = PostTo(client, receiver.port());
  EXPECT_EQ(r.status, 204) << r.error;
  EXPECT_EQ(receiver.accepted(), 2);
  EXPECT_EQ(receiver.requests(), 2);
  receiver.Stop();
}

TEST_F(HttpClientTest, IdleConnectionsExpireAndAreBounded) {
  Receiver receiver(ioc_, Receiver::Mode::kKeepAlive);
  HttpClient client(allow_, "", std::chrono::seconds(5), {.max_idle_per_origin = 1, .idle_timeout = std::chrono::milliseconds(0)});
  EXPECT_EQ(PostTo(client, receiver.port()).status, 204);
  EXPECT_EQ(PostTo(client, receiver.port()).status, 204);
  EXPECT_EQ(client.connections_opened(), 2);  // an idle timeout of 0 keeps nothing reusable
  EXPECT_EQ(client.connections_reused(), 0);
  EXPECT_LE(client.idle_connections(), 1u);
  receiver.Stop();
}

TEST_F(HttpClientTest, TheGuardStillJudgesNewConnections) {
  Receiver receiver(ioc_, Receiver::Mode::kKeepAlive);
  Allowlist none;
  HttpClient client(none, "", std::chrono::seconds(5));
  auto url = ParseWebhookUrl("http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook", allow_);
  ASSERT_TRUE(url);
  std::optional<PostResult> out;
  asio::co_spawn(ioc_, client.Post(*url, {}, "{}"), [&](std::exception_ptr, PostResult r) { out = std::move(r); });
  while (!out) ioc_.run_one();
  EXPECT_TRUE(out->refused);
  EXPECT_EQ(out->status, 0);
  EXPECT_EQ(receiver.accepted(), 0);
  receiver.Stop();
}

}  // namespace
}  // namespace gateway::webhooks
