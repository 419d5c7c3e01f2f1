#include "base/http/push.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>

#include <deque>
#include <mutex>
#include <thread>

#include "base/http/server.h"

namespace base::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

TEST(SseFrame, WritesIdEventAndOneDataLinePerLine) {
  EXPECT_EQ(SseFrame({"evt_1", "session.qr", "{\"a\":1}"}),
            "id: evt_1\nevent: session.qr\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(SseFrame({"", "", "one\ntwo\r\nthree"}), "data: one\ndata: two\ndata: three\n\n");
  // A line break in the id or event would end the field early: dropped.
  EXPECT_EQ(SseFrame({"a\nb", "x\ry", ""}), "id: ab\nevent: xy\ndata: \n\n");
  EXPECT_EQ(SseComment("heartbeat"), ": heartbeat\n\n");
}

TEST(IsWebSocketUpgrade, NeedsBothHeaders) {
  Request req{beast_http::verb::get, "/", 11};
  EXPECT_FALSE(IsWebSocketUpgrade(req));
  req.set(beast_http::field::connection, "keep-alive, Upgrade");
  req.set(beast_http::field::upgrade, "websocket");
  EXPECT_TRUE(IsWebSocketUpgrade(req));
}

// What the test's streaming handler shares with the test.
struct Hub {
  std::mutex mu;
  std::deque<PushMessage> queue;
  std::function<void()> waker;
  bool opened = false;
  bool ended = false;
  std::vector<std::string> routes;

  void Push(PushMessage m) {
    std::function<void()> wake;
    {
      std::lock_guard lock(mu);
      queue.push_back(std::move(m));
      wake = waker;
    }
    if (wake) wake();
  }
  template <class F>
  auto With(F f) {
    std::lock_guard lock(mu);
    return f();
  }
};

class PushServer : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_shared<Hub>();
    Router router;
    auto hub = hub_;
    PushOptions options{.heartbeat = std::chrono::milliseconds(50),
                        .write_timeout = std::chrono::milliseconds(2000),
                        .close_timeout = std::chrono::milliseconds(500)};
    router.Add(beast_http::verb::get, "/stream/{id}", [hub, options](Context& ctx) -> asio::awaitable<Response> {
      ctx.takeover = [hub, options](Streaming& s) -> asio::awaitable<void> {
        auto push = co_await Push::Open(s, options);
        if (!push) co_return;
        hub->With([&] {
          hub->waker = (*push)->Waker();
          hub->opened = true;
        });
        for (;;) {
          std::deque<PushMessage> batch;
          hub->With([&] { batch.swap(hub->queue); });
          for (const auto& m : batch) co_await (*push)->Send(m);
          if (!co_await (*push)->Wait()) break;
        }
        co_await (*push)->Close();
        hub->With([&] { hub->ended = true; });
      };
      co_return Response{beast_http::status::ok, ctx.request.version()};
    });
    auto acceptor = Bind(ioc_, {asio::ip::make_address("127.0.0.1"), 0});
    ASSERT_TRUE(acceptor);
    port_ = acceptor->local_endpoint().port();
    ServerOptions server_options;
    server_options.on_request = [hub](const RequestRecord& r) {
      hub->With([&] { hub->routes.push_back(std::string(r.route) + " " + std::to_string(r.status)); });
    };
    server_ = std::make_unique<Server>(ioc_, std::move(*acceptor), std::move(router), server_options);
    server_->Start();
    thread_ = std::thread([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (!shut_down_) Shutdown();
    ioc_.stop();
    thread_.join();
  }

  bool Shutdown() {
    shut_down_ = true;
    auto done = asio::co_spawn(ioc_, server_->Shutdown(std::chrono::milliseconds(3000)), asio::use_future);
    return done.get();
  }

  tcp::socket Connect() {
    tcp::socket s(client_ioc_);
    s.connect({asio::ip::make_address("127.0.0.1"), port_});
    timeval tv{5, 0};  // no read in these tests may block for longer
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
  }

  // Reads until `needle` has arrived (or the connection ends / 5 s pass); returns all read.
  static std::string ReadUntil(tcp::socket& s, std::string& seen, std::string_view needle) {
    char buf[4096];
    while (seen.find(needle) == std::string::npos) {
      boost::system::error_code ec;
      auto n = s.read_some(asio::buffer(buf), ec);
      if (ec) break;
      seen.append(buf, n);
    }
    return seen;
  }

  bool WaitFor(std::function<bool()> cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return cond();
  }

  asio::io_context ioc_{1};
  asio::io_context client_ioc_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::shared_ptr<Hub> hub_;
  unsigned short port_ = 0;
  bool shut_down_ = false;
};

TEST_F(PushServer, SseStreamsMessagesAndHeartbeatsAndNoticesTheClientLeaving) {
  auto s = Connect();
  asio::write(s, asio::buffer(std::string("GET /stream/7 HTTP/1.1\r\nHost: t\r\nX-Request-Id: r-1\r\n\r\n")));
  std::string seen;
  ReadUntil(s, seen, "\r\n\r\n");
  EXPECT_EQ(seen.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << seen;
  EXPECT_NE(seen.find("Content-Type: text/event-stream\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("Cache-Control: no-store\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("X-Request-Id: r-1\r\n"), std::string::npos) << seen;
  ASSERT_TRUE(WaitFor([&] { return hub_->With([&] { return hub_->opened; }); }));

  hub_->Push({"evt_1", "session.status", "{\"status\":\"qr\"}"});
  hub_->Push({"evt_2", "session.qr", "{\"qr\":\"x\"}"});
  std::string frame1 = "id: evt_1\nevent: session.status\ndata: {\"status\":\"qr\"}\n\n";
  std::string frame2 = "id: evt_2\nevent: session.qr\ndata: {\"qr\":\"x\"}\n\n";
  ReadUntil(s, seen, frame2);
  auto at1 = seen.find(frame1);
  auto at2 = seen.find(frame2);
  ASSERT_NE(at1, std::string::npos) << seen;
  ASSERT_NE(at2, std::string::npos) << seen;
  EXPECT_LT(at1, at2);
  // Each event is one chunk: its size in hex, CRLF, the frame, CRLF.
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", frame1.size());
  EXPECT_EQ(seen.substr(at1 - std::strlen(size), std::strlen(size)), size);

  ReadUntil(s, seen, ": heartbeat\n\n");
  EXPECT_NE(seen.find(": heartbeat\n\n"), std::string::npos);

  s.close();
  EXPECT_TRUE(WaitFor([&] { return hub_->With([&] { return hub_->ended; }); }));
  EXPECT_EQ(hub_->With([&] { return hub_->routes; }), std::vector<std::string>{"/stream/{id} 200"});
}

TEST_F(PushServer, WebSocketCarriesMessagesAsTextFrames) {
  websocket::stream<tcp::socket> ws(Connect());
  ws.handshake("127.0.0.1", "/stream/1");
  ASSERT_TRUE(WaitFor([&] { return hub_->With([&] { return hub_->opened; }); }));
  hub_->Push({"evt_1", "session.status", "{\"n\":1}"});
  hub_->Push({"evt_2", "session.status", "{\"n\":2}"});
  // Reading also answers the server's pings (every 50 ms here): the connection stays up.
  beast::flat_buffer buffer;
  ws.read(buffer);
  EXPECT_TRUE(ws.got_text());
  EXPECT_EQ(beast::buffers_to_string(buffer.data()), "{\"n\":1}");
  buffer.clear();
  ws.read(buffer);
  EXPECT_EQ(beast::buffers_to_string(buffer.data()), "{\"n\":2}");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // several heartbeats pass
  hub_->Push({"evt_3", "session.status", "{\"n\":3}"});
  buffer.clear();
  ws.read(buffer);
  EXPECT_EQ(beast::buffers_to_string(buffer.data()), "{\"n\":3}");
  ws.close(websocket::close_code::normal);
  EXPECT_TRUE(WaitFor([&] { return hub_->With([&] { return hub_->ended; }); }));
}

TEST_F(PushServer, DrainEndsOpenStreamsWithinTheDeadline) {
  auto sse = Connect();
  asio::write(sse, asio::buffer(std::string("GET /stream/1 HTTP/1.1\r\nHost: t\r\n\r\n")));
  std::string seen;
  ReadUntil(sse, seen, "\r\n\r\n");
  websocket::stream<tcp::socket> ws(Connect());
  ws.handshake("127.0.0.1", "/stream/2");

  auto started = std::chrono::steady_clock::now();
  std::thread ws_reader([&] {
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    while (!ec) ws.read(buffer, ec);
    EXPECT_EQ(ec, websocket::error::closed);
    EXPECT_EQ(ws.reason().code, websocket::close_code::going_away);
  });
  EXPECT_TRUE(Shutdown());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  ws_reader.join();
  // The SSE stream ends with the last chunk, then the connection closes.
  ReadUntil(sse, seen, "\r\n0\r\n\r\n");
  EXPECT_NE(seen.find("0\r\n\r\n"), std::string::npos) << seen;
  char byte;
  boost::system::error_code ec;
  sse.read_some(asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);
}

}  // namespace
}  // namespace base::http
