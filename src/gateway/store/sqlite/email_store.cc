#include "gateway/store/sqlite/email_store.h"

#include "gateway/store/ids.h"
#include "gateway/store/sqlite/on_pool.h"
#include "gateway/store/sqlite/sql.h"

namespace gateway::store::sqlite {

namespace asio = boost::asio;

namespace {

constexpr const char* kColumns =
    "id, dedupe_key, account_id, kind, rcpt, message, state, attempts, next_attempt_ms, last_error, "
    "created_ms, sent_ms";

EmailRow Read(Stmt& s) {
  EmailRow e;
  e.id = s.Text(0);
  e.dedupe_key = s.Text(1);
  e.account_id = s.Text(2);
  e.kind = s.Text(3);
  e.rcpt = s.Text(4);
  e.message = s.Text(5);
  e.state = s.Text(6);
  e.attempts = static_cast<int>(s.Int(7));
  e.next_attempt_ms = s.Int(8);
  e.last_error = s.Text(9);
  e.created_ms = s.Int(10);
  e.sent_ms = s.Int(11);
  return e;
}

base::Result<std::vector<EmailRow>> Collect(sqlite3* db, Stmt& s) {
  if (!s.ok()) return ErrorOf(db);
  std::vector<EmailRow> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(Read(s));
  if (rc != SQLITE_DONE) return ErrorOf(db);
  return out;
}

}  // namespace

asio::awaitable<base::Result<bool>> SqliteEmailStore::EnqueueEmail(EmailRow row) {
  if (row.id.empty()) row.id = NewId("eml_");
  auto fn = [row = std::move(row)](sqlite3* db) -> base::Result<bool> {
    Stmt s(db,
           "INSERT INTO email_outbox(id, dedupe_key, account_id, kind, rcpt, message, state, attempts, "
           "next_attempt_ms, last_error, created_ms, sent_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT(dedupe_key) DO NOTHING");
    if (!s.ok()) return base::Result<bool>(boost::system::in_place_error, ErrorOf(db));
    s.Bind(1, row.id);
    s.Bind(2, row.dedupe_key);
    s.Bind(3, row.account_id);
    s.Bind(4, row.kind);
    s.Bind(5, row.rcpt);
    s.Bind(6, row.message);
    s.Bind(7, row.state);
    s.Bind(8, static_cast<long long>(row.attempts));
    s.Bind(9, static_cast<long long>(row.next_attempt_ms));
    s.Bind(10, row.last_error);
    s.Bind(11, static_cast<long long>(row.created_ms));
    s.Bind(12, static_cast<long long>(row.sent_ms));
    if (s.Step() != SQLITE_DONE) return base::Result<bool>(boost::system::in_place_error, ErrorOf(db));
    return sqlite3_changes(db) > 0;
  };
  co_return co_await OnPool<bool>(store_, std::move(fn));
}

asio::awaitable<base::Result<bool>> SqliteEmailStore::HasEmail(std::string dedupe_key) {
  auto fn = [key = std::move(dedupe_key)](sqlite3* db) -> base::Result<bool> {
    Stmt s(db, "SELECT 1 FROM email_outbox WHERE dedupe_key = ?");
    if (!s.ok()) return base::Result<bool>(boost::system::in_place_error, ErrorOf(db));
    s.Bind(1, key);
    int rc = s.Step();
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) return base::Result<bool>(boost::system::in_place_error, ErrorOf(db));
    return false;
  };
  co_return co_await OnPool<bool>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<EmailRow>>> SqliteEmailStore::DueEmails(std::int64_t now_ms,
                                                                               int limit) {
  auto fn = [=](sqlite3* db) -> base::Result<std::vector<EmailRow>> {
    std::string sql = std::string("SELECT ") + kColumns +
                      " FROM email_outbox WHERE state = 'pending' AND next_attempt_ms <= ? "
                      "ORDER BY next_attempt_ms, created_ms LIMIT ?";
    Stmt s(db, sql.c_str());
    s.Bind(1, static_cast<long long>(now_ms));
    s.Bind(2, static_cast<long long>(limit));
    return Collect(db, s);
  };
  co_return co_await OnPool<std::vector<EmailRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::optional<std::int64_t>>> SqliteEmailStore::NextEmailDue() {
  auto fn = [](sqlite3* db) -> base::Result<std::optional<std::int64_t>> {
    Stmt s(db, "SELECT MIN(next_attempt_ms) FROM email_outbox WHERE state = 'pending'");
    if (!s.ok()) return ErrorOf(db);
    if (s.Step() != SQLITE_ROW) return ErrorOf(db);
    if (sqlite3_column_type(s.get(), 0) == SQLITE_NULL) return std::optional<std::int64_t>();
    return std::optional<std::int64_t>(s.Int(0));
  };
  co_return co_await OnPool<std::optional<std::int64_t>>(store_, std::move(fn));
}

asio::awaitable<base::Result<void>> SqliteEmailStore::MarkEmailSent(std::string id, int attempts,
                                                                  std::int64_t at_ms) {
  auto fn = [id = std::move(id), attempts, at_ms](sqlite3* db) -> base::Result<void> {
    Stmt s(db, "UPDATE email_outbox SET state = 'sent', attempts = ?, sent_ms = ?, last_error = '' WHERE id = ?");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, static_cast<long long>(attempts));
    s.Bind(2, static_cast<long long>(at_ms));
    s.Bind(3, id);
    if (s.Step() != SQLITE_DONE) return ErrorOf(db);
    return {};
  };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

asio::awaitable<base::Result<void>> SqliteEmailStore::MarkEmailFailed(std::string id, int attempts,
                                                                    std::int64_t next_attempt_ms,
                                                                    std::string error, bool dead) {
  auto fn = [id = std::move(id), attempts, next_attempt_ms, error = std::move(error),
             dead](sqlite3* db) -> base::Result<void> {
    Stmt s(db,
           "UPDATE email_outbox SET state = ?, attempts = ?, next_attempt_ms = ?, last_error = ? "
           "WHERE id = ?");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, dead ? "dead" : "pending");
    s.Bind(2, static_cast<long long>(attempts));
    s.Bind(3, static_cast<long long>(next_attempt_ms));
    s.Bind(4, error);
    s.Bind(5, id);
    if (s.Step() != SQLITE_DONE) return ErrorOf(db);
    return {};
  };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<EmailRow>>> SqliteEmailStore::ListEmails(std::string account_id,
                                                                                int limit) {
  auto fn = [account_id = std::move(account_id), limit](sqlite3* db) -> base::Result<std::vector<EmailRow>> {
    std::string sql = std::string("SELECT ") + kColumns +
                      " FROM email_outbox WHERE account_id = ? ORDER BY created_ms DESC, id LIMIT ?";
    Stmt s(db, sql.c_str());
    s.Bind(1, account_id);
    s.Bind(2, static_cast<long long>(limit));
    return Collect(db, s);
  };
  co_return co_await OnPool<std::vector<EmailRow>>(store_, std::move(fn));
}

}  // namespace gateway::store::sqlite
