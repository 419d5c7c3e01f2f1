// Request and response types of the HTTP layer, and the per-request context handlers receive.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace base::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;

// What a streaming handler gets when it takes the connection over (see Context::takeover): the
// socket, the bytes read past the request, and a way to hear that the server is draining.
struct Streaming {
  boost::beast::tcp_stream& stream;
  boost::beast::flat_buffer& buffer;
  const Request& request;
  std::string request_id;
  // Registers the one callback the server runs on the connection's strand when it starts
  // draining for shutdown (at once when it already is); the stream must then end promptly.
  std::function<void(std::function<void()>)> on_drain;
};

// A handler that keeps the connection (Server-Sent Events, WebSocket) sets Context::takeover; the
// server then does not write the handler's Response (used only for the access log and request
// metrics) and runs the takeover on the connection's strand instead, closing the connection when
// it returns. It must capture by value: the Context is gone by then.
using Takeover = std::function<boost::asio::awaitable<void>(Streaming&)>;

struct Context {
  const Request& request;
  std::string request_id;
  std::string_view path;    // without the query string
  std::string_view query;   // after '?', may be empty
  std::vector<std::pair<std::string, std::string>> params;  // from {name} route segments
  bool draining = false;  // the server is shutting down (readiness reports it)
  std::string remote_ip;  // the TCP peer's address (a proxy's, behind one)
  Takeover takeover = {};  // set by streaming handlers only

  std::string_view Param(std::string_view name) const {
    for (const auto& [k, v] : params) {
      if (k == name) return v;
    }
    return {};
  }
};

using Handler = std::function<boost::asio::awaitable<Response>(Context&)>;

}  // namespace base::http
