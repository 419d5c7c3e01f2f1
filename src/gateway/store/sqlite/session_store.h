// The SQLite rows of sessions (store/sessions.h).
#pragma once

#include "gateway/store/sessions.h"
#include "gateway/store/sqlite/sqlite_store.h"

namespace gateway::store::sqlite {

class SqliteSessionStore final : public SessionStore {
 public:
  explicit SqliteSessionStore(SqliteStore& store) : store_(store) {}

  boost::asio::awaitable<base::Result<void>> CreateSession(SessionRow row) override;
  boost::asio::awaitable<base::Result<std::optional<SessionRow>>> GetSession(
      std::string account_id, std::string id) override;
  boost::asio::awaitable<base::Result<std::vector<SessionRow>>> ListSessions(
      std::string account_id, std::string after_id, int limit) override;
  boost::asio::awaitable<base::Result<std::int64_t>> CountSessions(std::string account_id) override;
  boost::asio::awaitable<base::Result<std::vector<SessionRow>>> ListDesiredRunning() override;
  boost::asio::awaitable<base::Result<void>> SetDesired(std::string id, std::string desired) override;
  boost::asio::awaitable<base::Result<void>> SetStatus(std::string id, std::string status,
                                                       std::int64_t at_ms, std::string phone,
                                                       std::string jid, std::string lid) override;
  boost::asio::awaitable<base::Result<void>> DeleteSession(std::string id) override;
  boost::asio::awaitable<base::Result<std::vector<std::string>>> SuspendedAccounts() override;

 private:
  SqliteStore& store_;
};

}  // namespace gateway::store::sqlite
