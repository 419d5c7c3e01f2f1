// Webhook endpoints and their durable delivery outbox (migration 6). Every event of the log
// (store/events.h) that an endpoint subscribed to becomes one delivery row per (event, endpoint)
// by a fan-out that moves a persisted cursor in the same transaction, so a crash between an
// event's commit and its fan-out loses nothing. The delivery worker (gateway/webhooks) takes the
// oldest open delivery of each (endpoint, session) — the "head" — so a session's events reach an
// endpoint in log order; a replayed delivery is exempt from that order.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "gateway/store/events.h"
#include "gateway/store/store.h"

namespace gateway::store {

struct WebhookEndpointRow {
  std::string id;              // "whk_" + random
  std::string account_id;
  std::string session_id;      // empty: every session of the account without endpoints of its own
  std::string url;
  std::vector<std::string> events;  // subscribed event types
  std::string description;
  std::string secret;          // "whsec_..." (sealed at rest)
  std::string previous_secret; // the secret before the last rotation, empty when none
  std::int64_t previous_until_ms = 0;  // the previous secret also signs until then
  bool disabled = false;
  std::string disabled_reason;
  std::int64_t failing_since_ms = 0;   // 0: the last attempt succeeded (or none failed yet)
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
};

struct WebhookAttemptRow {
  int n = 0;                   // 1-based
  std::int64_t at_ms = 0;
  int status_code = 0;         // 0: no HTTP answer (connect, TLS, time-out, refused target)
  std::int64_t latency_ms = 0;
  std::string error;
};

struct WebhookDeliveryRow {
  std::string id;              // "dlv_" + random
  std::string endpoint_id;
  std::string account_id;
  std::string session_id;
  std::int64_t event_seq = 0;
  std::string event_id;        // the webhook-id, on every attempt and replay
  std::string event_type;
  std::string body;            // the exact bytes POSTed: {"type","timestamp","data"}
  std::string state;           // pending | retrying | delivered | dead
  bool ordered = true;         // false after a replay: it does not hold back later events
  int attempts = 0;
  std::int64_t window_start_ms = 0;  // the retry window runs from here
  std::int64_t next_attempt_ms = 0;
  int last_status = 0;
  std::string last_error;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::vector<WebhookAttemptRow> attempt_log;  // filled by GetDelivery/ListDeliveries
};

// A due head with what sending it needs.
struct DueWebhookDelivery {
  WebhookDeliveryRow delivery;
  WebhookEndpointRow endpoint;
};

struct DueWebhookBatch {
  std::vector<DueWebhookDelivery> due;
  std::int64_t next_due_ms = 0;  // earliest later attempt of an enabled endpoint; 0: none
};

struct WebhookFanOut {
  int events = 0;        // events read from the log
  int deliveries = 0;    // delivery rows made
  std::int64_t cursor = 0;
};

// How an attempt ended, decided by the worker (retry policy) and written by RecordAttempt.
struct WebhookAttemptOutcome {
  std::string delivery_id;
  std::string endpoint_id;
  WebhookAttemptRow attempt;          // n is assigned by the store
  std::string new_state;              // delivered | retrying | dead
  std::int64_t next_attempt_ms = 0;   // when retrying
  // The endpoint is disabled when it has been failing for this long (ms), or at once when
  // `disable_now` (410 Gone).
  std::int64_t disable_after_ms = 0;
  bool disable_now = false;
};

struct WebhookAttemptRecorded {
  bool endpoint_disabled_now = false;  // this attempt disabled the endpoint (owner to be told)
  WebhookEndpointRow endpoint;         // as it is after the attempt
};

// Counters per session of an account, kept in the transactions that change them, so a lost
// event would show as a gap between `events` and `delivered` + open + dead.
struct WebhookSessionStats {
  std::int64_t events = 0;             // events of the session seen by the fan-out
  std::int64_t messages_received = 0;  // of which message.received
  std::int64_t deliveries = 0;         // delivery rows made for them
  std::int64_t delivered = 0;
  std::int64_t dead = 0;
};

// The endpoints of `all` that receive `event`: same account; an endpoint with the event's
// session_id if any exists (the session's own override), else the account-wide ones; and only
// endpoints subscribed to the event's type.
std::vector<const WebhookEndpointRow*> WebhookRecipients(
    const std::vector<WebhookEndpointRow>& all, const EventRow& event);

// The delivered body: {"type":...,"timestamp":RFC 3339 of created_ms,"data":<event data>}.
std::string WebhookBody(const EventRow& event);

class WebhookStore {
 public:
  virtual ~WebhookStore() = default;

  virtual boost::asio::awaitable<base::Result<void>> CreateEndpoint(WebhookEndpointRow row) = 0;
  // Only the account's own endpoint.
  virtual boost::asio::awaitable<base::Result<std::optional<WebhookEndpointRow>>> GetEndpoint(
      std::string account_id, std::string id) = 0;
  // Ascending by id after `after_id`, at most `limit`.
  virtual boost::asio::awaitable<base::Result<std::vector<WebhookEndpointRow>>> ListEndpoints(
      std::string account_id, std::string after_id, int limit) = 0;
  // Writes every mutable field. `resume_at_ms` > 0: open deliveries of the endpoint restart
  // their retry window and become due then (re-enabling delivers what waited).
  virtual boost::asio::awaitable<base::Result<void>> UpdateEndpoint(WebhookEndpointRow row,
                                                                    std::int64_t resume_at_ms) = 0;
  // Deletes the endpoint with its deliveries; false when it is not the account's.
  virtual boost::asio::awaitable<base::Result<bool>> DeleteEndpoint(std::string account_id,
                                                                    std::string id) = 0;

  // Turns up to `limit` events after the cursor into deliveries and moves the cursor, in one
  // transaction.
  virtual boost::asio::awaitable<base::Result<WebhookFanOut>> FanOut(int limit,
                                                                     std::int64_t now_ms) = 0;
  // Heads due at `now_ms` of enabled endpoints, oldest first, at most `limit`.
  virtual boost::asio::awaitable<base::Result<DueWebhookBatch>> DueDeliveries(std::int64_t now_ms,
                                                                             int limit) = 0;
  virtual boost::asio::awaitable<base::Result<WebhookAttemptRecorded>> RecordAttempt(
      WebhookAttemptOutcome outcome) = 0;

  // Newest first; `after_id` is the last id of the previous page. `state` filters when not empty.
  virtual boost::asio::awaitable<base::Result<std::vector<WebhookDeliveryRow>>> ListDeliveries(
      std::string account_id, std::string endpoint_id, std::string after_id, std::string state,
      int limit) = 0;
  virtual boost::asio::awaitable<base::Result<std::optional<WebhookDeliveryRow>>> GetDelivery(
      std::string account_id, std::string endpoint_id, std::string delivery_id) = 0;
  // Sends the delivery again at `now_ms` with a new retry window, whatever its state; a finished
  // one comes back unordered. nullopt when it is not the account's.
  virtual boost::asio::awaitable<base::Result<std::optional<WebhookDeliveryRow>>> ReplayDelivery(
      std::string account_id, std::string endpoint_id, std::string delivery_id,
      std::int64_t now_ms) = 0;

  virtual boost::asio::awaitable<base::Result<WebhookSessionStats>> SessionStats(
      std::string account_id, std::string session_id) = 0;
};

}  // namespace gateway::store
