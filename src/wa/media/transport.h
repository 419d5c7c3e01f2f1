// The HTTP client media transfers run over, as an interface the owner injects: the engine gives
// HTTPS over Beast (proxy and TLS settings per client), wasim and tests give local ones
// (wa/testing/fake_media_host.h). Bodies stream in both directions so that neither side needs a
// whole file in memory. The transport owns deadlines and connection reuse.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace wa::media {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET" or "POST"
  std::string url;     // absolute: https://host[:port]/target
  Headers headers;
  std::optional<std::uint64_t> body_length;  // Content-Length of a POST body
};

struct HttpResponse {
  int status = 0;
  Headers headers;
};

// Fills the buffer with the next body bytes; returns how many, 0 at the end.
using BodySource = std::function<base::Result<std::size_t>(std::span<std::uint8_t> buffer)>;
// Takes the next response body bytes with the response's status (so that an error page is not
// mistaken for the file); an error stops the transfer and is returned by Send.
using BodySink = std::function<base::Result<void>(int status, base::ByteView chunk)>;

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends `request` with the body `body` produces (null: no body) and streams the response body
  // to `sink` whatever the status. Network failures and timeouts are errors; an HTTP error status
  // is not.
  virtual boost::asio::awaitable<base::Result<HttpResponse>> Send(HttpRequest request,
                                                                  BodySource body,
                                                                  BodySink sink) = 0;
};

}  // namespace wa::media
