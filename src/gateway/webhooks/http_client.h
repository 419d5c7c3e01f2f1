// The HTTP/1.1 client that POSTs webhooks (Boost.Beast): TLS with certificate and host name
// verification, one deadline for the whole exchange (resolve, connect, handshake, write, read),
// no redirects followed (a 3xx is a failure, as Standard Webhooks says), a capped response body,
// and the SSRF guard applied to every resolved address before connecting.
//
// Connections are kept alive per origin (scheme, host, port): after a complete response that
// allows it, the connection goes back to a small bounded pool of idle connections and the next
// POST to that origin reuses it, saving the TCP and TLS handshakes. Idle connections are dropped
// after `idle_timeout` (below Node's 5 s keep-alive default, so we rarely race the server's
// close), when the peer closed them, and on any error. A POST that fails on a reused connection
// before any response byte is sent once more on a new one (the receiver deduplicates on
// webhook-id anyway). The guard runs whenever a new connection is opened; a reused one was
// checked when it was opened.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
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
  bool reused = false;         // sent on a kept-alive connection
};

struct PoolOptions {
  int max_idle_per_origin = 8;
  std::chrono::milliseconds idle_timeout{4000};
};

class HttpClient {
 public:
  // `ca_file` adds trusted certificates to the system's (tests with a private CA).
  HttpClient(const Allowlist& allow, const std::string& ca_file, std::chrono::milliseconds timeout,
             PoolOptions pool = {});
  ~HttpClient();

  // Any executor; connections taken from the pool are used by one POST at a time.
  boost::asio::awaitable<PostResult> Post(const WebhookUrl& url,
                                          std::vector<std::pair<std::string, std::string>> headers,
                                          std::string body);

  // Counters (tests, metrics).
  std::int64_t connections_opened() const;
  std::int64_t connections_reused() const;
  std::size_t idle_connections() const;

 private:
  struct Connection;
  std::unique_ptr<Connection> TakeIdle(const std::string& origin);
  void PutIdle(std::unique_ptr<Connection> c);

  const Allowlist& allow_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::chrono::milliseconds timeout_;
  PoolOptions pool_options_;

  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;  // mu_; by origin, oldest first
  std::int64_t opened_ = 0;                                               // mu_
  std::int64_t reused_ = 0;                                               // mu_
};

// Resolves `url`'s host (or takes its literal address) within `timeout` and checks each address
// against the guard: an error (code url_not_allowed or invalid_url) when any is refused or none
// resolves. Used when a URL is saved.
boost::asio::awaitable<std::optional<UrlError>> CheckResolved(const WebhookUrl& url,
                                                              const Allowlist& allow,
                                                              std::chrono::milliseconds timeout);

}  // namespace gateway::webhooks
