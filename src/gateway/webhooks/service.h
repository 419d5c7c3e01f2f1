// Webhooks: the endpoint rules behind /v1/webhooks (validation, the SSRF guard, secrets shown
// once, rotation with a 24 h overlap) and the delivery worker.
//
// The worker reads the event log, not the bus: a bus notification (or the poll interval, for
// events written by another process) wakes it; it fans new events out into delivery rows
// (store/webhooks.h; the message store's writer already does so for the events of its own
// commits, so those are found fanned out), then sends each due head — the oldest open delivery of an (endpoint,
// session) — so a session's events arrive in order, while other sessions and other accounts
// proceed independently up to a per-endpoint concurrency limit. Every attempt is recorded with
// its status, latency and error; failures retry with backoff until the retry window ends (then
// a dead letter); an endpoint failing continuously for `disable_after` is disabled and its owner
// told (the `on_disabled` hook). All worker state lives on one strand.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/http/problem.h"
#include "base/result.h"
#include "gateway/store/sessions.h"
#include "gateway/store/webhooks.h"
#include "gateway/webhooks/http_client.h"
#include "gateway/webhooks/retry.h"
#include "gateway/webhooks/url_guard.h"

namespace gateway::webhooks {

using base::http::ApiError;

struct ServiceOptions {
  std::chrono::milliseconds timeout{10000};
  RetryPolicy retry;
  std::chrono::milliseconds disable_after{std::chrono::hours(72)};
  std::chrono::milliseconds rotation_overlap{std::chrono::hours(24)};
  int per_endpoint_concurrency = 4;
  int max_in_flight = 256;
  std::chrono::milliseconds poll_interval{1000};
  int fanout_batch = 500;
  int max_endpoints_per_account = 20;
  Allowlist allow;
  std::string ca_file;
  // Called on the worker's strand when an attempt disabled an endpoint.
  std::function<void(const store::WebhookEndpointRow&)> on_disabled;
};

// Event types an endpoint may subscribe to (webhook.test is always sent by /test).
const std::vector<std::string>& SubscribableEvents();
// healthy | failing | disabled
std::string Health(const store::WebhookEndpointRow& endpoint);

struct EndpointSpec {
  std::string url;
  std::vector<std::string> events;
  std::string description;
  std::string session_id;  // empty: account-wide
};

struct EndpointPatch {
  std::optional<std::string> url;
  std::optional<std::vector<std::string>> events;
  std::optional<std::string> description;
  std::optional<bool> enabled;
};

struct CreatedEndpoint {
  store::WebhookEndpointRow endpoint;
  std::string secret;  // shown once
};

struct TestResult {
  std::string webhook_id;
  int status_code = 0;
  std::int64_t latency_ms = 0;
  std::string error;
};

struct DeliveryPage {
  std::vector<store::WebhookDeliveryRow> deliveries;
  std::string next_cursor;
};

class Service {
 public:
  // Everything passed must outlive the service; `now_ms` (unix ms) is injectable for tests.
  Service(boost::asio::io_context& ioc, store::WebhookStore& store, store::SessionStore& sessions,
          ServiceOptions options, std::function<std::int64_t()> now_ms = nullptr);
  ~Service();

  // API (any thread).
  boost::asio::awaitable<base::Result<CreatedEndpoint, ApiError>> CreateEndpoint(std::string account_id,
                                                                                 EndpointSpec spec);
  boost::asio::awaitable<base::Result<std::vector<store::WebhookEndpointRow>, ApiError>> ListEndpoints(
      std::string account_id, std::string cursor, int limit);
  boost::asio::awaitable<base::Result<store::WebhookEndpointRow, ApiError>> GetEndpoint(std::string account_id,
                                                                                        std::string id);
  boost::asio::awaitable<base::Result<store::WebhookEndpointRow, ApiError>> UpdateEndpoint(
      std::string account_id, std::string id, EndpointPatch patch);
  boost::asio::awaitable<base::Result<void, ApiError>> DeleteEndpoint(std::string account_id, std::string id);
  boost::asio::awaitable<base::Result<CreatedEndpoint, ApiError>> RotateSecret(std::string account_id,
                                                                               std::string id);
  boost::asio::awaitable<base::Result<TestResult, ApiError>> Test(std::string account_id, std::string id);
  boost::asio::awaitable<base::Result<DeliveryPage, ApiError>> ListDeliveries(std::string account_id,
                                                                             std::string endpoint_id,
                                                                             std::string cursor,
                                                                             std::string state, int limit);
  boost::asio::awaitable<base::Result<store::WebhookDeliveryRow, ApiError>> Replay(std::string account_id,
                                                                                   std::string endpoint_id,
                                                                                   std::string delivery_id);
  boost::asio::awaitable<base::Result<store::WebhookSessionStats, ApiError>> SessionStats(
      std::string account_id, std::string session_id);

  // Worker. Wake is safe from any thread (the bus listener); it only posts to the strand.
  void Start();
  void Wake();
  // For an event just published: a wake-up unless the message writer's fan-out already handed
  // that event's deliveries over (Offer).
  void WakeFor(std::int64_t event_seq);
  // Deliveries the message writer's fan-out just committed, with the last event seq it covered.
  // Each starts at once when its lane is idle and known to hold nothing older (a lane's first
  // delivery after a start, a failure or a hand-over goes through the pump instead, which reads
  // the lane heads). Safe from any thread.
  void Offer(std::vector<store::DueWebhookDelivery> made, std::int64_t fanned_to_seq);
  // Stops the worker: in-flight attempts are cancelled and left open (sent again after a
  // restart; receivers deduplicate on webhook-id). Waits up to `timeout`.
  boost::asio::awaitable<void> Shutdown(std::chrono::milliseconds timeout);

  // Counters for tests and metrics.
  std::int64_t attempts_made() const { return attempts_made_.load(); }

 private:
  boost::asio::awaitable<void> Run();
  boost::asio::awaitable<std::int64_t> PumpOnce();
  // One delivery, then the lane's next ones while they succeed (ordered deliveries);
  // `knows_lane`: started as the head of a clean lane.
  boost::asio::awaitable<void> Attempt(store::DueWebhookDelivery due, bool knows_lane);
  // Starts an attempt unless the delivery is in flight or its lane sending (kBusy), its last
  // attempt's record is not committed yet (kAwaitsRecord: the store still shows it open), or
  // the endpoint or the worker is at its limit (kCapped). kNotHead: not tried (Offer).
  enum class Launch { kStarted, kBusy, kAwaitsRecord, kCapped, kNotHead };
  Launch TryStart(store::DueWebhookDelivery& due, const std::set<std::string>& recorded_meanwhile);
  void WakeNow();
  void Finished(const store::DueWebhookDelivery& due, std::uint64_t token);
  // Attempts' records go through one queue and are committed in batches (RecordLoop).
  void QueueRecord(store::WebhookAttemptOutcome outcome);
  boost::asio::awaitable<void> RecordLoop();
  // An ordered lane sends at most this many deliveries in a row before the pump looks again
  // (endpoint changes); after kContendedLaneRun when other lanes of its endpoint wait (contended_).
  static constexpr int kMaxLaneRun = 500;
  static constexpr int kContendedLaneRun = 16;
  std::vector<std::string> SigningSecrets(const store::WebhookEndpointRow& e, std::int64_t now_ms) const;
  boost::asio::awaitable<std::optional<ApiError>> CheckUrl(const std::string& url);
  std::optional<ApiError> CheckEvents(std::vector<std::string>& events) const;
  std::int64_t Now() const { return now_ms_(); }

  boost::asio::io_context& ioc_;
  store::WebhookStore& store_;
  store::SessionStore& sessions_;
  ServiceOptions options_;
  std::function<std::int64_t()> now_ms_;
  HttpClient client_;

  // Worker state: strand_ only.
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer timer_;
  bool started_ = false;
  bool running_ = false;
  bool stopping_ = false;
  bool wake_requested_ = false;
  std::set<std::string> in_flight_;              // delivery ids
  std::set<std::string> busy_lanes_;             // endpoint id + "\n" + session id
  std::map<std::string, int> per_endpoint_;      // in-flight attempts per endpoint
  // Endpoints whose other lanes had due deliveries the last pump could not start (the endpoint
  // was at its concurrency limit): their running lanes hand over after the current delivery.
  std::set<std::string> contended_;
  // Lanes whose last attempt succeeded and whose read-ahead found nothing more: an offered
  // delivery of such a lane is its head. Lanes that got an offer while sending are noted in
  // offered_while_busy_ and go through the pump when their run ends.
  std::set<std::string> clean_lanes_;
  std::set<std::string> offered_while_busy_;
  std::int64_t offered_seq_ = 0;  // events up to here were fanned out by the writer and offered
  bool needs_pump_ = false;       // something due was left for the pump
  std::set<std::string> unrecorded_;             // delivery ids whose attempt awaits its commit
  bool reading_due_ = false;                     // a DueDeliveries read is running
  std::set<std::string> recorded_during_read_;   // delivery ids recorded meanwhile (stale in it)
  std::vector<store::WebhookAttemptOutcome> records_;  // queued for the next commit
  bool recording_ = false;
  std::map<std::uint64_t, std::unique_ptr<boost::asio::cancellation_signal>> cancels_;
  std::uint64_t next_token_ = 1;
  std::mt19937_64 random_;
  std::atomic<bool> wake_posted_{false};
  std::atomic<std::int64_t> attempts_made_{0};
};

}  // namespace gateway::webhooks
