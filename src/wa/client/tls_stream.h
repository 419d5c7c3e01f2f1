// A TLS client stream over a TCP socket that holds no record buffers while idle, for the
// WebSocket under each client connection (transport.cc). Asio's ssl::stream keeps ~68 KB per
// connection for its whole life (two 17 KB record buffers and a 2 x 17 KB BIO pair); with
// thousands of idle connections per process that dominated a client's memory. Here OpenSSL
// reads and writes through memory BIOs that are replaced when they grew, socket reads wait for
// readability before taking a buffer, and SSL_MODE_RELEASE_BUFFERS (MakeTlsContext) lets
// OpenSSL free its own record buffers between records.
//
// It models Beast's AsyncReadStream/AsyncWriteStream (and websocket teardown) on one strand:
// one read and one write may be outstanding at a time, as for any Asio stream.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/role.hpp>

#include <cstddef>
#include <exception>
#include <string>
#include <tuple>

typedef struct ssl_st SSL;

namespace wa::client {

class TlsStream {
 public:
  using executor_type = boost::asio::any_io_executor;
  using next_layer_type = boost::asio::ip::tcp::socket;
  using lowest_layer_type = boost::asio::ip::tcp::socket;
  using Result = std::tuple<boost::system::error_code, std::size_t>;

  TlsStream(executor_type ex, boost::asio::ssl::context& ctx);
  ~TlsStream();
  TlsStream(TlsStream&&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  next_layer_type& next_layer() { return socket_; }
  lowest_layer_type& lowest_layer() { return socket_; }

  // SNI (names only) and certificate name checks (names or IP literals) for `host`; call before
  // Handshake. False when OpenSSL refuses the name.
  bool SetHost(const std::string& host);
  boost::asio::awaitable<boost::system::error_code> Handshake();

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, boost::asio::mutable_buffer buffer) {
          Launch(ReadSome(buffer), std::move(handler));
        },
        token, First(boost::asio::buffer_sequence_begin(buffers), boost::asio::buffer_sequence_end(buffers)));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, boost::asio::const_buffer buffer) {
          Launch(WriteSome(buffer), std::move(handler));
        },
        token, FirstConst(boost::asio::buffer_sequence_begin(buffers), boost::asio::buffer_sequence_end(buffers)));
  }

  // WebSocket teardown: a close_notify when possible, then the socket is closed.
  boost::asio::awaitable<boost::system::error_code> Shutdown();

 private:
  template <class It>
  static boost::asio::mutable_buffer First(It begin, It end) {
    for (; begin != end; ++begin) {
      boost::asio::mutable_buffer b(*begin);
      if (b.size() > 0) return b;
    }
    return {};
  }
  template <class It>
  static boost::asio::const_buffer FirstConst(It begin, It end) {
    for (; begin != end; ++begin) {
      boost::asio::const_buffer b(*begin);
      if (b.size() > 0) return b;
    }
    return {};
  }

  template <class Handler>
  void Launch(boost::asio::awaitable<Result> op, Handler handler) {
    auto ex = boost::asio::get_associated_executor(handler, get_executor());
    boost::asio::co_spawn(
        get_executor(), std::move(op),
        [handler = std::move(handler), ex](std::exception_ptr e, Result r) mutable {
          if (e) std::get<0>(r) = boost::asio::error::operation_aborted;
          boost::asio::dispatch(ex, [handler = std::move(handler), r]() mutable {
            handler(std::get<0>(r), std::get<1>(r));
          });
        });
  }

  boost::asio::awaitable<Result> ReadSome(boost::asio::mutable_buffer buffer);
  boost::asio::awaitable<Result> WriteSome(boost::asio::const_buffer buffer);
  // Moves ciphertext from the socket into OpenSSL's read BIO (waits for readability first, so
  // an idle read holds no buffer).
  boost::asio::awaitable<boost::system::error_code> Fill();
  // Writes whatever OpenSSL produced; one flusher at a time, the others return at once.
  boost::asio::awaitable<boost::system::error_code> Flush();
  boost::system::error_code SslError(int ret);
  void TrimBios();

  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_ = nullptr;
  bool flushing_ = false;
  bool peer_closed_ = false;
};

// Beast's websocket teardown customization points (found by argument-dependent lookup).
void teardown(boost::beast::role_type role, TlsStream& stream, boost::system::error_code& ec);
template <class Handler>
void async_teardown(boost::beast::role_type, TlsStream& stream, Handler&& handler) {
  auto ex = boost::asio::get_associated_executor(handler, stream.get_executor());
  boost::asio::co_spawn(stream.get_executor(), stream.Shutdown(),
                        [handler = std::forward<Handler>(handler), ex](
                            std::exception_ptr, boost::system::error_code ec) mutable {
                          boost::asio::dispatch(ex, [handler = std::move(handler), ec]() mutable {
                            handler(ec);
                          });
                        });
}

}  // namespace wa::client
