// A minimal HTTP CONNECT / SOCKS5 proxy on 127.0.0.1 for the integration tests: it accepts, runs
// the proxy handshake (checking credentials when configured), connects to the requested target
// and relays bytes both ways. Runs on its own thread; counts the tunnels it opened.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <string>
#include <thread>

namespace wa::itest {

class TestProxy {
 public:
  enum class Kind { kHttp, kSocks5 };
  TestProxy(Kind kind, std::string username = {}, std::string password = {});
  ~TestProxy();

  std::uint16_t port() const { return port_; }
  int tunnels() const { return tunnels_.load(); }
  int refused() const { return refused_.load(); }

 private:
  boost::asio::awaitable<void> Accept();
  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket client);
  static boost::asio::awaitable<void> Relay(boost::asio::ip::tcp::socket& from,
                                            boost::asio::ip::tcp::socket& to);

  Kind kind_;
  std::string username_, password_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::atomic<int> tunnels_{0};
  std::atomic<int> refused_{0};
  std::thread thread_;
};

}  // namespace wa::itest
