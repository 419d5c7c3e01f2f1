// The email outbox (migration 8): alert emails, rendered once, wait here until the SMTP server
// accepts them (gateway/notify). Keeping them in the database means an alert raised while the
// SMTP server is down, or just before a restart, is still sent; a unique `dedupe_key` per alert
// makes a repeated trigger (the same outage seen twice, a restart re-reading the same usage)
// one email, not two.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "gateway/store/store.h"

namespace gateway::store {

struct EmailRow {
  std::string id;          // "eml_" + random (assigned on enqueue when empty)
  std::string dedupe_key;  // one email per key, ever
  std::string account_id;
  std::string kind;        // logged_out | disconnected | endpoint_disabled | quota_80 | quota_100
  std::string rcpt;        // envelope recipient
  std::string message;     // RFC 5322 text with CRLF line ends
  std::string state = "pending";  // pending | sent | dead
  int attempts = 0;
  std::int64_t next_attempt_ms = 0;
  std::string last_error;
  std::int64_t created_ms = 0;
  std::int64_t sent_ms = 0;
};

class EmailStore {
 public:
  virtual ~EmailStore() = default;

  // Inserts the email unless one with its dedupe_key exists; true when it was inserted.
  virtual boost::asio::awaitable<base::Result<bool>> EnqueueEmail(EmailRow row) = 0;
  // Whether an email with this dedupe key exists (in any state).
  virtual boost::asio::awaitable<base::Result<bool>> HasEmail(std::string dedupe_key) = 0;
  // Pending emails with next_attempt_ms <= now_ms, oldest first, at most `limit`.
  virtual boost::asio::awaitable<base::Result<std::vector<EmailRow>>> DueEmails(std::int64_t now_ms,
                                                                               int limit) = 0;
  // The earliest next_attempt_ms of a pending email, if any.
  virtual boost::asio::awaitable<base::Result<std::optional<std::int64_t>>> NextEmailDue() = 0;
  virtual boost::asio::awaitable<base::Result<void>> MarkEmailSent(std::string id, int attempts,
                                                                  std::int64_t at_ms) = 0;
  // Records a failed attempt: pending again at next_attempt_ms, or dead when `dead`.
  virtual boost::asio::awaitable<base::Result<void>> MarkEmailFailed(std::string id, int attempts,
                                                                    std::int64_t next_attempt_ms,
                                                                    std::string error, bool dead) = 0;
  // Every email of an account, newest first (tests and support).
  virtual boost::asio::awaitable<base::Result<std::vector<EmailRow>>> ListEmails(
      std::string account_id, int limit) = 0;
};

}  // namespace gateway::store
