// The chat endpoint: accepts TCP, detects TLS by its first byte (so ws:// and wss:// share one
// port), upgrades /ws/chat to a WebSocket, and pumps binary messages between the socket and a
// Connection. The same port is wasim's media host (media_http.h: uploads to /mms/…, downloads from
// /v/…), so that clients need one address and one certificate for both. Anything else gets an
// HTTP 404.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <cstdint>

#include "base/task_group.h"

namespace sim {

class World;

class ChatServer {
 public:
  ChatServer(boost::asio::io_context& ioc, World& world, boost::asio::ssl::context& tls,
             boost::asio::ip::tcp::acceptor acceptor);
  void Start();
  void Stop();

 private:
  boost::asio::awaitable<void> AcceptLoop();
  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  World& world_;
  boost::asio::ssl::context& tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  base::TaskGroup tasks_{"chat"};
  std::uint64_t next_id_ = 1;
};

}  // namespace sim
