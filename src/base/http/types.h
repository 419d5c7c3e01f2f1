// Request and response types of the HTTP layer, and the per-request context handlers receive.
#pragma once

#include <boost/asio/awaitable.hpp>
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

struct Context {
  const Request& request;
  std::string request_id;
  std::string_view path;    // without the query string
  std::string_view query;   // after '?', may be empty
  std::vector<std::pair<std::string, std::string>> params;  // from {name} route segments
  bool draining = false;  // the server is shutting down (readiness reports it)
  std::string remote_ip;  // the TCP peer's address (a proxy's, behind one)

  std::string_view Param(std::string_view name) const {
    for (const auto& [k, v] : params) {
      if (k == name) return v;
    }
    return {};
  }
};

using Handler = std::function<boost::asio::awaitable<Response>(Context&)>;

}  // namespace base::http
