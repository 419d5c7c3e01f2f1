#include "wa/client/tls_stream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <memory>

namespace wa::client {

namespace asio = boost::asio;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

// A memory BIO that grew past this is replaced once empty, so that idle connections keep none.
constexpr std::size_t kKeepBio = 4096;
constexpr std::size_t kChunk = 16 * 1024;

std::size_t Capacity(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  return mem ? mem->max : 0;
}

}  // namespace

TlsStream::TlsStream(executor_type ex, asio::ssl::context& ctx) : socket_(std::move(ex)) {
  ssl_ = SSL_new(ctx.native_handle());
  if (ssl_) {
    SSL_set_bio(ssl_, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_connect_state(ssl_);
  }
}

TlsStream::~TlsStream() {
  if (ssl_) SSL_free(ssl_);
}

bool TlsStream::SetHost(const std::string& host) {
  if (!ssl_) return false;
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
  if (!ec) {
    // No SNI for IP literals (RFC 6066 §3); the certificate must name the address.
    return X509_VERIFY_PARAM_set1_ip_asc(param, address.to_string().c_str()) == 1;
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set_tlsext_host_name(ssl_, host.c_str()) == 1 && SSL_set1_host(ssl_, host.c_str()) == 1;
}

error_code TlsStream::SslError(int ret) {
  int err = SSL_get_error(ssl_, ret);
  if (err == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e != 0) return error_code(static_cast<int>(e), asio::error::get_ssl_category());
  if (peer_closed_) return asio::ssl::error::stream_truncated;
  return error_code(static_cast<int>(err), asio::error::get_ssl_category());
}

void TlsStream::TrimBios() {
  BIO* rbio = SSL_get_rbio(ssl_);
  if (rbio && BIO_ctrl_pending(rbio) == 0 && Capacity(rbio) > kKeepBio) {
    SSL_set0_rbio(ssl_, BIO_new(BIO_s_mem()));
  }
  BIO* wbio = SSL_get_wbio(ssl_);
  if (wbio && BIO_ctrl_pending(wbio) == 0 && Capacity(wbio) > kKeepBio) {
    SSL_set0_wbio(ssl_, BIO_new(BIO_s_mem()));
  }
}

asio::awaitable<error_code> TlsStream::Fill() {
  if (peer_closed_) co_return asio::error::eof;
  auto [wec] = co_await socket_.async_wait(asio::ip::tcp::socket::wait_read, kTuple);
  if (wec) co_return wec;
  auto chunk = std::make_unique<std::uint8_t[]>(kChunk);
  for (;;) {
    error_code ec;
    std::size_t n = socket_.read_some(asio::buffer(chunk.get(), kChunk), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      auto [again] = co_await socket_.async_wait(asio::ip::tcp::socket::wait_read, kTuple);
      if (again) co_return again;
      continue;
    }
    if (ec == asio::error::eof) {
      peer_closed_ = true;
      co_return ec;
    }
    if (ec) co_return ec;
    BIO_write(SSL_get_rbio(ssl_), chunk.get(), static_cast<int>(n));
    co_return error_code{};
  }
}

asio::awaitable<error_code> TlsStream::Flush() {
  if (flushing_) co_return error_code{};
  flushing_ = true;
  error_code result;
  std::unique_ptr<std::uint8_t[]> chunk;
  while (BIO_ctrl_pending(SSL_get_wbio(ssl_)) > 0) {
    if (!chunk) chunk = std::make_unique<std::uint8_t[]>(kChunk);
    int n = BIO_read(SSL_get_wbio(ssl_), chunk.get(), static_cast<int>(kChunk));
    if (n <= 0) break;
    auto [ec, written] = co_await asio::async_write(
        socket_, asio::buffer(chunk.get(), static_cast<std::size_t>(n)), kTuple);
    if (ec) {
      result = ec;
      break;
    }
  }
  flushing_ = false;
  TrimBios();
  co_return result;
}

asio::awaitable<error_code> TlsStream::Handshake() {
  if (!ssl_) co_return asio::error::no_memory;
  error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) co_return ec;
  for (;;) {
    ERR_clear_error();
    int ret = SSL_do_handshake(ssl_);
    if (auto f = co_await Flush(); f) co_return f;
    if (ret == 1) co_return error_code{};
    if (SSL_get_error(ssl_, ret) != SSL_ERROR_WANT_READ) co_return SslError(ret);
    if (auto f = co_await Fill(); f) co_return f;
  }
}

asio::awaitable<TlsStream::Result> TlsStream::ReadSome(asio::mutable_buffer buffer) {
  if (buffer.size() == 0) co_return Result{error_code{}, 0};
  for (;;) {
    ERR_clear_error();
    std::size_t n = 0;
    int ret = SSL_read_ex(ssl_, buffer.data(), buffer.size(), &n);
    if (ret == 1) {
      TrimBios();
      co_return Result{error_code{}, n};
    }
    int err = SSL_get_error(ssl_, ret);
    // Post-handshake messages (TLS 1.3 tickets, key updates) may leave output behind.
    if (auto f = co_await Flush(); f) co_return Result{f, 0};
    if (err != SSL_ERROR_WANT_READ) co_return Result{SslError(ret), 0};
    TrimBios();
    if (auto f = co_await Fill(); f) {
      co_return Result{f == asio::error::eof ? asio::ssl::error::stream_truncated : f, 0};
    }
  }
}

asio::awaitable<TlsStream::Result> TlsStream::WriteSome(asio::const_buffer buffer) {
  if (buffer.size() == 0) co_return Result{error_code{}, 0};
  ERR_clear_error();
  std::size_t n = 0;
  int ret = SSL_write_ex(ssl_, buffer.data(), buffer.size(), &n);
  if (ret != 1) co_return Result{SslError(ret), 0};
  if (auto f = co_await Flush(); f) co_return Result{f, 0};
  co_return Result{error_code{}, n};
}

asio::awaitable<error_code> TlsStream::Shutdown() {
  if (ssl_ && !peer_closed_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // queues close_notify; the peer's answer is not awaited
    co_await Flush();
  }
  error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  co_return error_code{};
}

void teardown(boost::beast::role_type, TlsStream& stream, error_code& ec) {
  error_code ignored;
  stream.next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream.next_layer().close(ignored);
  ec = {};
}

}  // namespace wa::client
