#include "control_client.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <tuple>

namespace wa::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// An HTTP server that answers each request with keep-alive and the request's number as the body,
// then, like a server whose idle timeout fired, closes the connection anyway.
class ClosingServer {
 public:
  explicit ClosingServer(asio::io_context& ioc) : acceptor_(ioc, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(ioc, Accept(), [](std::exception_ptr) {});
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  int connections = 0;
  int requests = 0;

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++connections;
      co_await Serve(std::move(socket));
    }
  }
  asio::awaitable<void> Serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(socket, buffer, req, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    http::response<http::string_body> res{http::status::ok, 11};
    res.keep_alive(true);
    res.body() = std::to_string(++requests);
    res.prepare_payload();
    co_await http::async_write(socket, res, asio::as_tuple(asio::use_awaitable));
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
  tcp::acceptor acceptor_;
};

template <class T>
std::optional<T> RunFor(asio::io_context& ioc, asio::awaitable<T> task) {
  std::optional<T> out;
  asio::co_spawn(ioc, std::move(task), [&](std::exception_ptr e, T v) {
    if (!e) out = std::move(v);
    ioc.stop();
  });
  ioc.run_for(std::chrono::seconds(10));
  ioc.restart();
  return out;
}

TEST(ControlClient, RetriesAClosedKeptAliveConnectionOnANewOne) {
  asio::io_context ioc;
  ClosingServer server(ioc);
  ControlClient client(ioc.get_executor(), server.url());
  ASSERT_TRUE(client.valid());
  auto first = RunFor(ioc, client.Call(http::verb::get, "/a"));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "1");
  EXPECT_EQ(client.idle_connections(), 1u);  // kept, though the server has closed it

  auto second = RunFor(ioc, client.Call(http::verb::get, "/b"));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200) << second->error;
  EXPECT_EQ(second->body, "2");  // the request reached the server once
  EXPECT_EQ(server.connections, 2);
}

TEST(ControlClient, RetryDoesNotTakeAnotherStaleConnection) {
  asio::io_context ioc;
  ClosingServer server(ioc);
  ControlClient client(ioc.get_executor(), server.url());
  using namespace asio::experimental::awaitable_operators;
  // Two calls at once open two connections; both end up idle in the pool, both closed.
  auto both = RunFor(ioc, [&]() -> asio::awaitable<int> {
    auto [a, b] = co_await (client.Call(http::verb::get, "/a") && client.Call(http::verb::get, "/b"));
    co_return a.status + b.status;
  }());
  ASSERT_TRUE(both);
  EXPECT_EQ(*both, 400);
  EXPECT_EQ(client.idle_connections(), 2u);

  auto third = RunFor(ioc, client.Call(http::verb::get, "/c"));
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 200) << third->error;
  EXPECT_EQ(third->body, "3");
  EXPECT_EQ(server.connections, 3);
}

TEST(ControlClient, NoServerIsNoAnswerWithAReason) {
  asio::io_context ioc;
  std::string url;
  {
    tcp::acceptor closed(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    url = "http://127.0.0.1:" + std::to_string(closed.local_endpoint().port());
  }
  ControlClient client(ioc.get_executor(), url);
  auto r = RunFor(ioc, client.Call(http::verb::get, "/x"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 0);
  EXPECT_NE(r->error.find("connect"), std::string::npos) << r->error;
}

TEST(ControlClient, RejectsUrlsItCannotUse) {
  asio::io_context ioc;
  EXPECT_FALSE(ControlClient(ioc.get_executor(), "https://127.0.0.1:1").valid());
  EXPECT_FALSE(ControlClient(ioc.get_executor(), "http://localhost:80").valid());
  EXPECT_TRUE(ControlClient(ioc.get_executor(), "http://127.0.0.1:7777").valid());
}

}  // namespace
}  // namespace wa::bench
