// The event log (migration 5): every event a customer can hear about (message.received,
// message.status, session.status, session.qr, webhook.test) is appended here, in the same
// transaction as the change it reports, before anyone is told. Webhook delivery and the live
// event streams read it by `seq`, so an event committed before a crash is still delivered after
// it, and a stream client can resume from the last event it saw (SSE Last-Event-ID).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "gateway/store/store.h"

namespace gateway::store {

struct EventRow {
  std::int64_t seq = 0;     // assigned on append: increasing, never reused
  std::string id;           // "evt_" + random; the webhook-id of its deliveries
  std::string account_id;
  std::string session_id;   // empty for account-level events
  std::string type;         // "message.received", "message.status", "session.status", ...
  std::string data;         // a JSON object (the event's `data`)
  std::int64_t created_ms = 0;
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // Appends (assigning seq, and id/created_ms when empty) and commits; returns the stored rows.
  virtual boost::asio::awaitable<base::Result<std::vector<EventRow>>> AppendEvents(
      std::vector<EventRow> events) = 0;
  // Events with seq > after_seq, ascending, at most `limit`.
  virtual boost::asio::awaitable<base::Result<std::vector<EventRow>>> EventsAfter(
      std::int64_t after_seq, int limit) = 0;
  // The same for one account's session (live streams resuming after a reconnect).
  virtual boost::asio::awaitable<base::Result<std::vector<EventRow>>> SessionEventsAfter(
      std::string account_id, std::string session_id, std::int64_t after_seq, int limit) = 0;
  // The seq of one of the account's events by its id (a stream's Last-Event-ID); nullopt when
  // there is none (never was, or pruned).
  virtual boost::asio::awaitable<base::Result<std::optional<std::int64_t>>> EventSeqOf(
      std::string account_id, std::string event_id) = 0;
  // The highest seq so far (0 when empty).
  virtual boost::asio::awaitable<base::Result<std::int64_t>> LastEventSeq() = 0;
  // Drops events older than `before_ms` whose seq is at most `max_seq` (retention; the caller
  // passes the lowest seq every reader has finished with).
  virtual boost::asio::awaitable<base::Result<std::int64_t>> PruneEvents(std::int64_t before_ms,
                                                                        std::int64_t max_seq) = 0;
};

}  // namespace gateway::store
