// The SQLite email outbox (store/emails.h).
#pragma once

#include "gateway/store/emails.h"
#include "gateway/store/sqlite/sqlite_store.h"

namespace gateway::store::sqlite {

class SqliteEmailStore final : public EmailStore {
 public:
  explicit SqliteEmailStore(SqliteStore& store) : store_(store) {}

  boost::asio::awaitable<base::Result<bool>> EnqueueEmail(EmailRow row) override;
  boost::asio::awaitable<base::Result<bool>> HasEmail(std::string dedupe_key) override;
  boost::asio::awaitable<base::Result<std::vector<EmailRow>>> DueEmails(std::int64_t now_ms,
                                                                       int limit) override;
  boost::asio::awaitable<base::Result<std::optional<std::int64_t>>> NextEmailDue() override;
  boost::asio::awaitable<base::Result<void>> MarkEmailSent(std::string id, int attempts,
                                                          std::int64_t at_ms) override;
  boost::asio::awaitable<base::Result<void>> MarkEmailFailed(std::string id, int attempts,
                                                            std::int64_t next_attempt_ms,
                                                            std::string error, bool dead) override;
  boost::asio::awaitable<base::Result<std::vector<EmailRow>>> ListEmails(std::string account_id,
                                                                        int limit) override;

 private:
  SqliteStore& store_;
};

}  // namespace gateway::store::sqlite
