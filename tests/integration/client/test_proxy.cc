#include "test_proxy.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "base/bytes.h"

namespace wa::itest {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

TestProxy::TestProxy(Kind kind, std::string username, std::string password)
    : kind_(kind),
      username_(std::move(username)),
      password_(std::move(password)),
      acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(ioc_, Accept(), asio::detached);
  thread_ = std::thread([this] { ioc_.run(); });
}

TestProxy::~TestProxy() {
  ioc_.stop();
  thread_.join();
}

asio::awaitable<void> TestProxy::Accept() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (ec) co_return;
    asio::co_spawn(ioc_, Serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> TestProxy::Relay(tcp::socket& from, tcp::socket& to) {
  std::array<char, 16384> buf;
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), kTuple);
    if (ec) break;
    auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), kTuple);
    if (wec) break;
  }
  boost::system::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> TestProxy::Serve(tcp::socket client) {
  std::string host;
  std::string port;
  if (kind_ == Kind::kHttp) {
    std::string head;
    auto [ec, n] = co_await asio::async_read_until(client, asio::dynamic_buffer(head), "\r\n\r\n", kTuple);
    if (ec) co_return;
    // "CONNECT host:port HTTP/1.1"
    auto sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    std::string authority = head.substr(sp1 + 1, sp2 - sp1 - 1);
    auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (!username_.empty()) {
      std::string expected = "Proxy-Authorization: Basic " +
                             base::ToBase64(base::AsBytes(username_ + ":" + password_));
      if (head.find(expected) == std::string::npos) {
        ++refused_;
        std::string no = "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n";
        co_await asio::async_write(client, asio::buffer(no), kTuple);
        co_return;
      }
    }
  } else {
    std::uint8_t greeting[2];
    auto [e1, n1] = co_await asio::async_read(client, asio::buffer(greeting), kTuple);
    if (e1 || greeting[0] != 5) co_return;
    std::vector<std::uint8_t> methods(greeting[1]);
    auto [e2, n2] = co_await asio::async_read(client, asio::buffer(methods), kTuple);
    if (e2) co_return;
    std::uint8_t want = username_.empty() ? 0 : 2;
    bool offered = std::find(methods.begin(), methods.end(), want) != methods.end();
    std::uint8_t choice[2] = {5, static_cast<std::uint8_t>(offered ? want : 0xFF)};
    if (!offered) ++refused_;  // before the answer, as below
    co_await asio::async_write(client, asio::buffer(choice), kTuple);
    if (!offered) co_return;
    if (want == 2) {
      std::uint8_t ver_len[2];
      co_await asio::async_read(client, asio::buffer(ver_len), kTuple);
      std::string user(ver_len[1], '\0');
      co_await asio::async_read(client, asio::buffer(user), kTuple);
      std::uint8_t plen;
      co_await asio::async_read(client, asio::buffer(&plen, 1), kTuple);
      std::string pass(plen, '\0');
      co_await asio::async_read(client, asio::buffer(pass), kTuple);
      bool ok = user == username_ && pass == password_;
      // Counted before the answer goes out: the client may report the refusal (and a test read
      // the count) before this coroutine resumes after the write.
      if (!ok) ++refused_;
      std::uint8_t status[2] = {1, static_cast<std::uint8_t>(ok ? 0 : 1)};
      co_await asio::async_write(client, asio::buffer(status), kTuple);
      if (!ok) co_return;
    }
    std::uint8_t req[4];
    auto [e3, n3] = co_await asio::async_read(client, asio::buffer(req), kTuple);
    if (e3 || req[1] != 1) co_return;
    if (req[3] == 3) {
      std::uint8_t len;
      co_await asio::async_read(client, asio::buffer(&len, 1), kTuple);
      host.resize(len);
      co_await asio::async_read(client, asio::buffer(host), kTuple);
    } else if (req[3] == 1) {
      std::array<std::uint8_t, 4> a;
      co_await asio::async_read(client, asio::buffer(a), kTuple);
      host = asio::ip::address_v4(a).to_string();
    } else {
      co_return;
    }
    std::uint8_t p[2];
    co_await asio::async_read(client, asio::buffer(p), kTuple);
    port = std::to_string(p[0] << 8 | p[1]);
  }

  tcp::resolver resolver(ioc_);
  auto [rec, results] = co_await resolver.async_resolve(host, port, kTuple);
  tcp::socket upstream(ioc_);
  boost::system::error_code cec = rec;
  if (!rec) std::tie(cec, std::ignore) = co_await asio::async_connect(upstream, results, kTuple);
  if (kind_ == Kind::kHttp) {
    std::string answer = cec ? "HTTP/1.1 502 Bad Gateway\r\n\r\n" : "HTTP/1.1 200 Connection established\r\n\r\n";
    co_await asio::async_write(client, asio::buffer(answer), kTuple);
  } else {
    std::uint8_t reply[10] = {5, static_cast<std::uint8_t>(cec ? 5 : 0), 0, 1, 127, 0, 0, 1, 0, 0};
    co_await asio::async_write(client, asio::buffer(reply), kTuple);
  }
  if (cec) co_return;
  ++tunnels_;
  co_await (Relay(client, upstream) && Relay(upstream, client));
}

}  // namespace wa::itest
