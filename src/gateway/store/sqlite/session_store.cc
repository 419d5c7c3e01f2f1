#include "gateway/store/sqlite/session_store.h"

#include "gateway/store/sqlite/on_pool.h"
#include "gateway/store/sqlite/sql.h"

namespace gateway::store::sqlite {

namespace asio = boost::asio;

namespace {

constexpr const char* kColumns =
    "id, account_id, name, sandbox, webhook_url, proxy, min_delay_ms, max_delay_ms, daily_limit, "
    "desired, status, status_ms, phone, jid, lid, created_ms, pacing, linked_ms, history_sync";

SessionRow Read(Stmt& s) {
  SessionRow r;
  r.id = s.Text(0);
  r.account_id = s.Text(1);
  r.name = s.Text(2);
  r.sandbox = s.Int(3) != 0;
  r.webhook_url = s.Text(4);
  r.proxy = s.Text(5);
  r.min_delay_ms = static_cast<int>(s.Int(6));
  r.max_delay_ms = static_cast<int>(s.Int(7));
  if (sqlite3_column_type(s.get(), 8) != SQLITE_NULL) r.daily_limit = s.Int(8);
  r.desired = s.Text(9);
  r.status = s.Text(10);
  r.status_ms = s.Int(11);
  r.phone = s.Text(12);
  r.jid = s.Text(13);
  r.lid = s.Text(14);
  r.created_ms = s.Int(15);
  r.pacing = s.Text(16);
  r.linked_ms = s.Int(17);
  r.history_sync = s.Text(18);
  return r;
}

base::Result<std::vector<SessionRow>> Select(sqlite3* db, const std::string& where,
                                             const std::function<void(Stmt&)>& bind) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM sessions " + where;
  Stmt s(db, sql.c_str());
  if (!s.ok()) return ErrorOf(db);
  bind(s);
  std::vector<SessionRow> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(Read(s));
  if (rc != SQLITE_DONE) return ErrorOf(db);
  return out;
}

}  // namespace

asio::awaitable<base::Result<void>> SqliteSessionStore::CreateSession(SessionRow row) {
  auto fn = [row = std::move(row)](sqlite3* db) {
    return Change(db,
                  "INSERT INTO sessions(id, account_id, name, sandbox, webhook_url, proxy, "
                  "min_delay_ms, max_delay_ms, daily_limit, desired, status, status_ms, phone, jid, "
                  "lid, created_ms, pacing, history_sync) "
                  "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  [&](Stmt& s) {
                    s.Bind(1, row.id);
                    s.Bind(2, row.account_id);
                    s.Bind(3, row.name);
                    s.Bind(4, static_cast<long long>(row.sandbox));
                    s.Bind(5, row.webhook_url);
                    s.Bind(6, row.proxy);
                    s.Bind(7, static_cast<long long>(row.min_delay_ms));
                    s.Bind(8, static_cast<long long>(row.max_delay_ms));
                    if (row.daily_limit) s.Bind(9, static_cast<long long>(*row.daily_limit));
                    s.Bind(10, row.desired);
                    s.Bind(11, row.status);
                    s.Bind(12, static_cast<long long>(row.status_ms));
                    s.Bind(13, row.phone);
                    s.Bind(14, row.jid);
                    s.Bind(15, row.lid);
                    s.Bind(16, static_cast<long long>(row.created_ms));
                    s.Bind(17, row.pacing);
                    s.Bind(18, row.history_sync);
                  });
  };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::optional<SessionRow>>> SqliteSessionStore::GetSession(
    std::string account_id, std::string id) {
  auto fn = [account_id = std::move(account_id), id = std::move(id)](
                sqlite3* db) -> base::Result<std::optional<SessionRow>> {
    auto rows = Select(db, "WHERE id = ? AND account_id = ?", [&](Stmt& s) {
      s.Bind(1, id);
      s.Bind(2, account_id);
    });
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<SessionRow>();
    return std::optional<SessionRow>(std::move(rows->front()));
  };
  co_return co_await OnPool<std::optional<SessionRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<SessionRow>>> SqliteSessionStore::ListSessions(
    std::string account_id, std::string after_id, int limit) {
  auto fn = [account_id = std::move(account_id), after_id = std::move(after_id), limit](sqlite3* db) {
    return Select(db, "WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?", [&](Stmt& s) {
      s.Bind(1, account_id);
      s.Bind(2, after_id);
      s.Bind(3, static_cast<long long>(limit));
    });
  };
  co_return co_await OnPool<std::vector<SessionRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::int64_t>> SqliteSessionStore::CountSessions(std::string account_id) {
  auto fn = [account_id = std::move(account_id)](sqlite3* db) -> base::Result<std::int64_t> {
    Stmt s(db, "SELECT count(*) FROM sessions WHERE account_id = ?");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, account_id);
    if (s.Step() != SQLITE_ROW) return ErrorOf(db);
    return static_cast<std::int64_t>(s.Int(0));
  };
  co_return co_await OnPool<std::int64_t>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<SessionRow>>> SqliteSessionStore::ListDesiredRunning() {
  auto fn = [](sqlite3* db) {
    return Select(db, "WHERE desired = 'running' ORDER BY id", [](Stmt&) {});
  };
  co_return co_await OnPool<std::vector<SessionRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<void>> SqliteSessionStore::SetDesired(std::string id, std::string desired) {
  auto fn = [id = std::move(id), desired = std::move(desired)](sqlite3* db) {
    return Change(db, "UPDATE sessions SET desired = ? WHERE id = ?", [&](Stmt& s) {
      s.Bind(1, desired);
      s.Bind(2, id);
    });
  };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

asio::awaitable<base::Result<void>> SqliteSessionStore::SetStatus(std::string id, std::string status,
                                                                  std::int64_t at_ms, std::string phone,
                                                                  std::string jid, std::string lid) {
  auto fn = [id = std::move(id), status = std::move(status), at_ms, phone = std::move(phone),
             jid = std::move(jid), lid = std::move(lid)](sqlite3* db) {
    return Change(db,
                  "UPDATE sessions SET status = ?, status_ms = ?, "
                  "phone = CASE WHEN ? = '' THEN phone ELSE ? END, "
                  "jid = CASE WHEN ? = '' THEN jid ELSE ? END, "
                  "lid = CASE WHEN ? = '' THEN lid ELSE ? END, "
                  "linked_ms = CASE WHEN ?1 = 'logged_out' THEN 0 "
                  "  WHEN ?1 = 'connected' AND linked_ms = 0 THEN ?2 ELSE linked_ms END "
                  "WHERE id = ?",
                  [&](Stmt& s) {
                    s.Bind(1, status);
                    s.Bind(2, static_cast<long long>(at_ms));
                    s.Bind(3, phone);
                    s.Bind(4, phone);
                    s.Bind(5, jid);
                    s.Bind(6, jid);
                    s.Bind(7, lid);
                    s.Bind(8, lid);
                    s.Bind(9, id);
                  });
  };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

asio::awaitable<base::Result<void>> SqliteSessionStore::DeleteSession(std::string id) {
  auto fn = [id = std::move(id)](sqlite3* db) {
    return Change(db, "DELETE FROM sessions WHERE id = ?", [&](Stmt& s) { s.Bind(1, id); });
  };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<std::string>>> SqliteSessionStore::SuspendedAccounts() {
  auto fn = [](sqlite3* db) -> base::Result<std::vector<std::string>> {
    Stmt s(db, "SELECT id FROM accounts WHERE suspended = 1");
    if (!s.ok()) return ErrorOf(db);
    std::vector<std::string> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.push_back(s.Text(0));
    if (rc != SQLITE_DONE) return ErrorOf(db);
    return out;
  };
  co_return co_await OnPool<std::vector<std::string>>(store_, std::move(fn));
}

}  // namespace gateway::store::sqlite
