#include "gateway/store/sqlite/account_store.h"

#include <utility>

#include "gateway/store/sqlite/on_pool.h"
#include "gateway/store/sqlite/sql.h"

namespace gateway::store::sqlite {

namespace asio = boost::asio;

namespace {

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    if (!out.empty()) out += ',';
    out += id;
  }
  return out;
}

std::vector<std::string> SplitIds(const std::string& joined) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < joined.size()) {
    std::size_t comma = joined.find(',', start);
    if (comma == std::string::npos) comma = joined.size();
    if (comma > start) out.push_back(joined.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::optional<std::int64_t> OptInt(Stmt& s, int col) {
  if (sqlite3_column_type(s.get(), col) == SQLITE_NULL) return std::nullopt;
  return s.Int(col);
}

constexpr const char* kAccountColumns = "id, email, password_hash, plan, suspended, created_ms";

AccountRow ReadAccount(Stmt& s) {
  return AccountRow{.id = s.Text(0),
                    .email = s.Text(1),
                    .password_hash = s.Text(2),
                    .plan = s.Text(3),
                    .suspended = s.Int(4) != 0,
                    .created_ms = s.Int(5)};
}

constexpr const char* kKeyColumns =
    "id, account_id, name, prefix, secret_hash, read_only, session_ids, created_ms, "
    "last_used_ms, revoked_ms";

ApiKeyRow ReadKey(Stmt& s) {
  return ApiKeyRow{.id = s.Text(0),
                   .account_id = s.Text(1),
                   .name = s.Text(2),
                   .prefix = s.Text(3),
                   .secret_hash = s.Blob(4),
                   .read_only = s.Int(5) != 0,
                   .session_ids = SplitIds(s.Text(6)),
                   .created_ms = s.Int(7),
                   .last_used_ms = OptInt(s, 8),
                   .revoked_ms = OptInt(s, 9)};
}

base::Result<std::optional<AccountRow>> SelectAccount(sqlite3* db, const char* where,
                                                      const std::string& value) {
  std::string sql = std::string("SELECT ") + kAccountColumns + " FROM accounts WHERE " + where;
  Stmt s(db, sql.c_str());
  if (!s.ok()) return ErrorOf(db);
  s.Bind(1, value);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<AccountRow>();
  if (rc != SQLITE_ROW) return ErrorOf(db);
  return std::optional<AccountRow>(ReadAccount(s));
}

base::Result<std::optional<ApiKeyRow>> SelectKey(sqlite3* db, const char* where,
                                                 const std::function<void(Stmt&)>& bind) {
  std::string sql = std::string("SELECT ") + kKeyColumns + " FROM api_keys WHERE " + where;
  Stmt s(db, sql.c_str());
  if (!s.ok()) return ErrorOf(db);
  bind(s);
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<ApiKeyRow>();
  if (rc != SQLITE_ROW) return ErrorOf(db);
  return std::optional<ApiKeyRow>(ReadKey(s));
}

}  // namespace

asio::awaitable<base::Result<void>> SqliteAccountStore::CreateAccount(AccountRow row) {
  auto fn = [row = std::move(row)](sqlite3* db) -> base::Result<void> {
    Stmt s(db,
           "INSERT INTO accounts(id, email, password_hash, plan, suspended, created_ms) "
           "VALUES(?, ?, ?, ?, ?, ?)");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, row.id);
    s.Bind(2, row.email);
    s.Bind(3, row.password_hash);
    s.Bind(4, row.plan);
    s.Bind(5, static_cast<long long>(row.suspended));
    s.Bind(6, static_cast<long long>(row.created_ms));
    if (s.Step() != SQLITE_DONE) return ErrorOf(db);
    return {};
  };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::optional<AccountRow>>> SqliteAccountStore::FindAccountByEmail(
    std::string email) {
  auto fn = [email = std::move(email)](sqlite3* db) { return SelectAccount(db, "email = ?", email); };
  co_return co_await OnPool<std::optional<AccountRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::optional<AccountRow>>> SqliteAccountStore::GetAccount(
    std::string id) {
  auto fn = [id = std::move(id)](sqlite3* db) { return SelectAccount(db, "id = ?", id); };
  co_return co_await OnPool<std::optional<AccountRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<bool>> SqliteAccountStore::SetSuspended(std::string id,
                                                                      bool suspended) {
  auto fn = [id = std::move(id), suspended](sqlite3* db) -> base::Result<bool> {
    Stmt s(db, "UPDATE accounts SET suspended = ? WHERE id = ?");
    if (!s.ok()) return base::Result<bool>(boost::system::in_place_error, ErrorOf(db));
    s.Bind(1, static_cast<long long>(suspended));
    s.Bind(2, id);
    if (s.Step() != SQLITE_DONE) return base::Result<bool>(boost::system::in_place_error, ErrorOf(db));
    return sqlite3_changes(db) > 0;
  };
  co_return co_await OnPool<bool>(store_, std::move(fn));
}

asio::awaitable<base::Result<void>> SqliteAccountStore::CreateApiKey(ApiKeyRow row) {
  auto fn = [row = std::move(row)](sqlite3* db) -> base::Result<void> {
    Stmt s(db,
           "INSERT INTO api_keys(id, account_id, name, prefix, secret_hash, read_only, "
           "session_ids, created_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, row.id);
    s.Bind(2, row.account_id);
    s.Bind(3, row.name);
    s.Bind(4, row.prefix);
    s.BindBlob(5, row.secret_hash);
    s.Bind(6, static_cast<long long>(row.read_only));
    s.Bind(7, JoinIds(row.session_ids));
    s.Bind(8, static_cast<long long>(row.created_ms));
    if (s.Step() != SQLITE_DONE) return ErrorOf(db);
    return {};
  };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::optional<ApiKeyRow>>> SqliteAccountStore::FindApiKeyByHash(
    base::Bytes secret_hash) {
  auto fn = [hash = std::move(secret_hash)](sqlite3* db) {
        return SelectKey(db, "secret_hash = ?", [&](Stmt& s) { s.BindBlob(1, hash); });
      };
  co_return co_await OnPool<std::optional<ApiKeyRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<ApiKeyRow>>> SqliteAccountStore::ListApiKeys(
    std::string account_id) {
  auto fn = [account_id = std::move(account_id)](sqlite3* db) -> base::Result<std::vector<ApiKeyRow>> {
        std::string sql = std::string("SELECT ") + kKeyColumns +
                          " FROM api_keys WHERE account_id = ? ORDER BY created_ms DESC, id DESC";
        Stmt s(db, sql.c_str());
        if (!s.ok()) return ErrorOf(db);
        s.Bind(1, account_id);
        std::vector<ApiKeyRow> out;
        int rc;
        while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadKey(s));
        if (rc != SQLITE_DONE) return ErrorOf(db);
        return out;
      };
  co_return co_await OnPool<std::vector<ApiKeyRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::optional<ApiKeyRow>>> SqliteAccountStore::RevokeApiKey(
    std::string account_id, std::string key_id, std::int64_t at_ms) {
  auto fn = [account_id = std::move(account_id), key_id = std::move(key_id),
               at_ms](sqlite3* db) -> base::Result<std::optional<ApiKeyRow>> {
        Stmt u(db,
               "UPDATE api_keys SET revoked_ms = ? WHERE id = ? AND account_id = ? AND "
               "revoked_ms IS NULL");
        if (!u.ok()) return ErrorOf(db);
        u.Bind(1, static_cast<long long>(at_ms));
        u.Bind(2, key_id);
        u.Bind(3, account_id);
        if (u.Step() != SQLITE_DONE) return ErrorOf(db);
        return SelectKey(db, "id = ? AND account_id = ?", [&](Stmt& s) {
          s.Bind(1, key_id);
          s.Bind(2, account_id);
        });
      };
  co_return co_await OnPool<std::optional<ApiKeyRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<void>> SqliteAccountStore::TouchApiKeys(
    std::vector<std::pair<std::string, std::int64_t>> last_used) {
  auto fn = [last_used = std::move(last_used)](sqlite3* db) -> base::Result<void> {
        std::string err;
        if (!Exec(db, "BEGIN IMMEDIATE", &err)) return ErrorOf(db);
        Stmt s(db, "UPDATE api_keys SET last_used_ms = MAX(COALESCE(last_used_ms, 0), ?) WHERE id = ?");
        bool ok = s.ok();
        for (const auto& [id, at] : last_used) {
          if (!ok) break;
          s.Bind(1, static_cast<long long>(at));
          s.Bind(2, id);
          ok = s.Step() == SQLITE_DONE;
          s.Reset();
        }
        if (!ok) {
          auto error = ErrorOf(db);
          Exec(db, "ROLLBACK", &err);
          return error;
        }
        if (!Exec(db, "COMMIT", &err)) {
          auto error = ErrorOf(db);
          Exec(db, "ROLLBACK", &err);
          return error;
        }
        return {};
      };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

asio::awaitable<base::Result<void>> SqliteAccountStore::CreateWebSession(WebSessionRow row) {
  auto fn = [row = std::move(row)](sqlite3* db) -> base::Result<void> {
    Stmt s(db,
           "INSERT INTO web_sessions(token_hash, account_id, csrf_token, created_ms, expires_ms) "
           "VALUES(?, ?, ?, ?, ?)");
    if (!s.ok()) return ErrorOf(db);
    s.BindBlob(1, row.token_hash);
    s.Bind(2, row.account_id);
    s.Bind(3, row.csrf_token);
    s.Bind(4, static_cast<long long>(row.created_ms));
    s.Bind(5, static_cast<long long>(row.expires_ms));
    if (s.Step() != SQLITE_DONE) return ErrorOf(db);
    // Expired logins of everyone are removed as new ones arrive.
    Stmt gc(db, "DELETE FROM web_sessions WHERE expires_ms <= ?");
    if (gc.ok()) {
      gc.Bind(1, static_cast<long long>(row.created_ms));
      gc.Step();
    }
    return {};
  };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::optional<WebSessionRow>>> SqliteAccountStore::FindWebSession(
    base::Bytes token_hash, std::int64_t now_ms) {
  auto fn = [hash = std::move(token_hash), now_ms](sqlite3* db) -> base::Result<std::optional<WebSessionRow>> {
        Stmt s(db,
               "SELECT token_hash, account_id, csrf_token, created_ms, expires_ms FROM web_sessions "
               "WHERE token_hash = ? AND expires_ms > ?");
        if (!s.ok()) return ErrorOf(db);
        s.BindBlob(1, hash);
        s.Bind(2, static_cast<long long>(now_ms));
        int rc = s.Step();
        if (rc == SQLITE_DONE) return std::optional<WebSessionRow>();
        if (rc != SQLITE_ROW) return ErrorOf(db);
        return std::optional<WebSessionRow>(WebSessionRow{.token_hash = s.Blob(0),
                                                          .account_id = s.Text(1),
                                                          .csrf_token = s.Text(2),
                                                          .created_ms = s.Int(3),
                                                          .expires_ms = s.Int(4)});
      };
  co_return co_await OnPool<std::optional<WebSessionRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<void>> SqliteAccountStore::DeleteWebSession(base::Bytes token_hash) {
  auto fn = [hash = std::move(token_hash)](sqlite3* db) -> base::Result<void> {
    Stmt s(db, "DELETE FROM web_sessions WHERE token_hash = ?");
    if (!s.ok()) return ErrorOf(db);
    s.BindBlob(1, hash);
    if (s.Step() != SQLITE_DONE) return ErrorOf(db);
    return {};
  };
  co_return co_await OnPool<void>(store_, std::move(fn));
}

}  // namespace gateway::store::sqlite
