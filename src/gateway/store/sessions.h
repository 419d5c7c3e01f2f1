// Sessions (linked numbers) in the store (migration 4): what the owner configured and asked for
// (`desired`) and the last observed status. The session manager (gateway/sessions) keeps them.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "gateway/store/store.h"

namespace gateway::store {

struct SessionRow {
  std::string id;
  std::string account_id;
  std::string name;
  bool sandbox = false;
  std::string webhook_url;
  std::string proxy;
  int min_delay_ms = 0;
  int max_delay_ms = 0;
  std::optional<std::int64_t> daily_limit;
  std::string desired;  // running | stopped
  std::string status;
  std::int64_t status_ms = 0;
  std::string phone;
  std::string jid;
  std::string lid;
  std::int64_t created_ms = 0;
  std::string pacing = "{}";   // JSON object: outbox::PacingFromJson
  std::int64_t linked_ms = 0;  // first connected since the last link (0: not linked)
  std::string history_sync;    // off | recent | full; empty: the gateway's default
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  virtual boost::asio::awaitable<base::Result<void>> CreateSession(SessionRow row) = 0;
  // Only the account's own session (nullopt for another account's id).
  virtual boost::asio::awaitable<base::Result<std::optional<SessionRow>>> GetSession(
      std::string account_id, std::string id) = 0;
  // Ascending by id, after `after_id` (a cursor), at most `limit`.
  virtual boost::asio::awaitable<base::Result<std::vector<SessionRow>>> ListSessions(
      std::string account_id, std::string after_id, int limit) = 0;
  virtual boost::asio::awaitable<base::Result<std::int64_t>> CountSessions(
      std::string account_id) = 0;
  // Every session whose owner wants it running (at start-up).
  virtual boost::asio::awaitable<base::Result<std::vector<SessionRow>>> ListDesiredRunning() = 0;
  virtual boost::asio::awaitable<base::Result<void>> SetDesired(std::string id,
                                                                std::string desired) = 0;
  // Records an observed status; phone/jid/lid are kept when passed empty. The first
  // "connected" after a link sets linked_ms; "logged_out" clears it.
  virtual boost::asio::awaitable<base::Result<void>> SetStatus(std::string id, std::string status,
                                                               std::int64_t at_ms, std::string phone,
                                                               std::string jid, std::string lid) = 0;
  virtual boost::asio::awaitable<base::Result<void>> DeleteSession(std::string id) = 0;
  // Accounts that are suspended (the kill switch, polled by the manager).
  virtual boost::asio::awaitable<base::Result<std::vector<std::string>>> SuspendedAccounts() = 0;
};

}  // namespace gateway::store
