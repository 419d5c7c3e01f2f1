// The HTTP/1.1 client that POSTs webhooks (Boost.Beast): one connection per attempt, TLS with
// certificate and host name verification, one deadline for the whole exchange (resolve,
// connect, handshake, write, read), no redirects followed (a 3xx is a failure, as Standard
// Webhooks says), a capped response body, and the SSRF guard applied to every resolved address
// before connecting.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gateway/webhooks/url_guard.h"

namespace gateway::webhooks {

struct PostResult {
  int status = 0;              // 0: no HTTP answer
  std::int64_t latency_ms = 0;
  std::string error;           // why there is no answer ("" when there is one)
  int retry_after_s = 0;       // a Retry-After in seconds, when the receiver sent one
  bool refused = false;        // the SSRF guard refused every address
};

class HttpClient {
 public:
  // `ca_file` adds trusted certificates to the system's (tests with a private CA).
  HttpClient(const Allowlist& allow, const std::string& ca_file, std::chrono::milliseconds timeout);

  boost::asio::awaitable<PostResult> Post(const WebhookUrl& url,
                                          std::vector<std::pair<std::string, std::string>> headers,
                                          std::string body);

 private:
  const Allowlist& allow_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::chrono::milliseconds timeout_;
};

// Resolves `url`'s host (or takes its literal address) within `timeout` and checks each address
// against the guard: an error (code url_not_allowed or invalid_url) when any is refused or none
// resolves. Used when a URL is saved.
boost::asio::awaitable<std::optional<UrlError>> CheckResolved(const WebhookUrl& url,
                                                              const Allowlist& allow,
                                                              std::chrono::milliseconds timeout);

}  // namespace gateway::webhooks
