// Messages in the store (migration 7): the durable outbox of every session (outgoing messages
// from the 202 until a final status) and the received messages, each with its status history.
// Every status change appends a `message.status` event (and every received message a
// `message.received` event) to the event log in the same transaction; the methods return those
// events so the caller can publish them on the bus.
//
// Status order for outgoing messages: queued < sending < sent < delivered < read < played;
// `failed` ends a message that was never sent (reason in error_code). A receipt never moves a
// message backwards (a late "delivered" after "read" is recorded in nothing).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "gateway/store/events.h"
#include "gateway/store/store.h"

namespace gateway::store {

struct StatusChange {
  std::string status;
  std::int64_t at_ms = 0;
};

struct MessageRow {
  std::int64_t n = 0;        // insertion order (queue order, list cursor)
  std::string id;            // "msg_" + random
  std::string account_id;
  std::string session_id;
  std::string direction;     // "in" | "out"
  std::string wa_id;         // WhatsApp's message id; for "out" fixed before the first attempt
  std::string chat_jid;      // the other party's user JID
  std::string to;            // "out": the recipient as the caller wrote it
  std::string sender_jid;    // "in": the sending device's JID
  std::string sender_pn;     // "in": phone-number user JID, when known
  std::string sender_lid;    // "in": LID user JID, when known
  std::string push_name;     // "in"
  std::string type = "text";
  std::string text;
  std::string quoted_id;     // a reply's quoted WhatsApp id
  std::string quoted_participant;
  std::string quoted_text;
  std::vector<std::string> mentions;  // user JIDs
  std::string status;
  std::string error_code;    // when failed
  std::string error_detail;
  std::optional<std::int64_t> expires_ms;
  std::int64_t attempts = 0;
  bool first_contact = false;  // "out": sent to a chat that had never written to us
  std::int64_t wa_timestamp = 0;  // server time (unix seconds): of the ack or of the message
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::int64_t sent_ms = 0;
  std::string source = "live";  // "live", or "history": from the phone's history sync
  std::vector<StatusChange> history;  // filled by GetMessage only
};

struct IdempotencyKey {
  std::string key;
  std::string request_hash;  // hex SHA-256 of the request body and route
};

// One enqueue: the message (status queued) and optionally the idempotency key it came with.
struct EnqueueItem {
  MessageRow message;
  std::optional<IdempotencyKey> idempotency;
  std::int64_t month_start_ms = 0;  // counts for the plan's monthly limit start here
  std::int64_t monthly_limit = 0;   // 0: none
};

struct EnqueueOutcome {
  enum class Kind {
    kQueued,          // stored now
    kReplayed,        // the same key and body came before: `message` is the first one
    kKeyConflict,     // the same key came with another body
    kOverMonthlyLimit,
  };
  Kind kind = Kind::kQueued;
  MessageRow message;
  std::vector<EventRow> events;  // to publish (kQueued only)
};

// What the pacer needs to know about a session's recent sending.
struct SendingStats {
  std::int64_t sent_since = 0;          // sent at or after `since_ms`
  std::int64_t first_contacts_since = 0;
  std::int64_t received_since = 0;
  std::int64_t failed_since = 0;
  std::int64_t queued = 0;              // waiting now (queued or sending)
  std::int64_t oldest_queued_ms = 0;    // created_ms of the oldest waiting one; 0 when none
};

class MessageStore {
 public:
  virtual ~MessageStore() = default;

  // Stores messages (several callers' enqueues may share one transaction: group commit).
  virtual boost::asio::awaitable<base::Result<EnqueueOutcome>> Enqueue(EnqueueItem item) = 0;
  // By our id or by WhatsApp id, within the account's session; with its history.
  virtual boost::asio::awaitable<base::Result<std::optional<MessageRow>>> GetMessage(
      std::string account_id, std::string session_id, std::string id) = 0;
  // Newest first, before cursor `before_n` (0: from the newest); direction "" for both.
  virtual boost::asio::awaitable<base::Result<std::vector<MessageRow>>> ListMessages(
      std::string account_id, std::string session_id, std::string direction,
      std::int64_t before_n, int limit) = 0;
  // The session's oldest waiting outgoing messages (queued or sending), in queue order.
  virtual boost::asio::awaitable<base::Result<std::vector<MessageRow>>> PendingOutgoing(
      std::string session_id, int limit) = 0;
  // Moves an outgoing message (by our id) forward; `attempts_inc` adds to its attempt count,
  // `sent_ms`/`wa_timestamp`/`first_contact` are recorded with `sent`. Returns the events (none
  // when the change was not a step forward).
  struct Transition {
    std::string message_id;
    std::string status;
    std::int64_t at_ms = 0;
    std::string error_code;
    std::string error_detail;
    int attempts_inc = 0;
    std::int64_t wa_timestamp = 0;
    bool first_contact = false;
  };
  virtual boost::asio::awaitable<base::Result<std::vector<EventRow>>> Advance(
      std::string session_id, std::vector<Transition> changes) = 0;
  // Receipts: moves outgoing messages by WhatsApp id (unknown ids are ignored).
  virtual boost::asio::awaitable<base::Result<std::vector<EventRow>>> AdvanceByWaIds(
      std::string session_id, std::vector<std::string> wa_ids, std::string status,
      std::int64_t at_ms) = 0;
  // Cancels a queued outgoing message: failed/cancelled. False when it is not queued anymore.
  virtual boost::asio::awaitable<base::Result<std::pair<bool, std::vector<EventRow>>>> Cancel(
      std::string session_id, std::string message_id, std::int64_t at_ms) = 0;
  // Fails every waiting outgoing message of the session with `reason`.
  virtual boost::asio::awaitable<base::Result<std::vector<EventRow>>> FailPending(
      std::string session_id, std::string reason, std::string detail, std::int64_t at_ms) = 0;
  // Stores a received message once (by session and WhatsApp id); `inserted` false for a
  // duplicate, which produces no event.
  struct Received {
    bool inserted = false;
    MessageRow message;
    std::vector<EventRow> events;
  };
  virtual boost::asio::awaitable<base::Result<Received>> StoreReceived(MessageRow row) = 0;
  // Stores messages from a history sync (source "history", direction in or out, status
  // "received" or "sent"), skipping any the session already has (by direction and WhatsApp id),
  // in one transaction and without events. Returns how many were new.
  virtual boost::asio::awaitable<base::Result<std::int64_t>> StoreHistory(
      std::vector<MessageRow> rows) = 0;
  // Sessions whose stored status is logged_out and which still have waiting outgoing messages,
  // with the time of that status.
  virtual boost::asio::awaitable<base::Result<std::vector<std::pair<std::string, std::int64_t>>>>
  LoggedOutSessions() = 0;
  // Whether `chat_jid` (a chat or a sender's phone-number JID) ever wrote to the session
  // (first-contact rule).
  virtual boost::asio::awaitable<base::Result<bool>> HasReceivedFrom(std::string session_id,
                                                                      std::string chat_jid) = 0;
  // Every session's waiting outgoing messages: how many, and the oldest one's created_ms (0: none).
  virtual boost::asio::awaitable<base::Result<std::pair<std::int64_t, std::int64_t>>> QueueTotals() = 0;
  virtual boost::asio::awaitable<base::Result<SendingStats>> Stats(std::string session_id,
                                                                   std::int64_t since_ms) = 0;
  // The account's outgoing messages created at or after `since_ms` (monthly plan limit).
  virtual boost::asio::awaitable<base::Result<std::int64_t>> CountOutgoing(std::string account_id,
                                                                          std::int64_t since_ms) = 0;
  // Retention: drops messages (and expired idempotency keys) older than the cut-offs; waiting
  // outgoing messages are never dropped.
  virtual boost::asio::awaitable<base::Result<std::int64_t>> Prune(std::int64_t messages_before_ms,
                                                                  std::int64_t keys_before_ms) = 0;
};

}  // namespace gateway::store
