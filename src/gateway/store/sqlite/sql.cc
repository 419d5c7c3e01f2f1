#include "gateway/store/sqlite/sql.h"

#include <memory>
#include <mutex>
#include <unordered_map>

namespace gateway::store::sqlite {

// Used by one thread at a time, like its connection; only the registry is shared.
class StatementCache {
 public:
  ~StatementCache() {
    for (auto& [sql, s] : kept_) sqlite3_finalize(s);
  }
  sqlite3_stmt* Take(const char* sql) {
    auto it = kept_.find(std::string_view(sql));
    if (it == kept_.end()) return nullptr;
    sqlite3_stmt* s = it->second;
    kept_.erase(it);
    return s;
  }
  bool Keep(sqlite3_stmt* s) {
    // Statements built with varying text (IN lists) must not grow it without bound.
    if (kept_.size() >= kMaxKept) return false;
    const char* sql = sqlite3_sql(s);
    if (!sql) return false;
    return kept_.emplace(std::string(sql), s).second;
  }

 private:
  static constexpr std::size_t kMaxKept = 256;
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view v) const { return std::hash<std::string_view>()(v); }
  };
  std::unordered_map<std::string, sqlite3_stmt*, Hash, std::equal_to<>> kept_;
};

namespace {

std::mutex registry_mu;
std::unordered_map<sqlite3*, std::unique_ptr<StatementCache>>& Registry() {
  static auto* registry = new std::unordered_map<sqlite3*, std::unique_ptr<StatementCache>>();
  return *registry;
}

}  // namespace

void RegisterStatementCache(sqlite3* db) {
  std::lock_guard lock(registry_mu);
  Registry().emplace(db, std::make_unique<StatementCache>());
}

void DropStatementCache(sqlite3* db) {
  std::unique_ptr<StatementCache> cache;
  {
    std::lock_guard lock(registry_mu);
    auto it = Registry().find(db);
    if (it == Registry().end()) return;
    cache = std::move(it->second);
    Registry().erase(it);
  }
}

StatementCache* StatementCacheOf(sqlite3* db) {
  std::lock_guard lock(registry_mu);
  auto it = Registry().find(db);
  return it == Registry().end() ? nullptr : it->second.get();
}

sqlite3_stmt* TakeCached(StatementCache* cache, const char* sql) { return cache->Take(sql); }
bool KeepCached(StatementCache* cache, sqlite3_stmt* s) { return cache->Keep(s); }

bool Exec(sqlite3* db, const char* sql, std::string* err) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    if (err) *err = msg ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    return false;
  }
  return true;
}

Errc Classify(int rc) {
  switch (rc & 0xFF) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: return Errc::kCorrupt;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY: return Errc::kUnavailable;
    case SQLITE_CONSTRAINT: return Errc::kConflict;
    default: return Errc::kIo;
  }
}

base::Result<void> InTransaction(sqlite3* db, const std::function<base::Result<void>()>& fn) {
  if (!Exec(db, "BEGIN IMMEDIATE", nullptr)) return ErrorOf(db);
  auto done = fn();
  if (done && !Exec(db, "COMMIT", nullptr)) done = ErrorOf(db);
  if (!done) Exec(db, "ROLLBACK", nullptr);
  return done;
}

base::Result<void> Change(sqlite3* db, const char* sql, const std::function<void(Stmt&)>& bind) {
  Stmt s(db, sql);
  if (!s.ok()) return ErrorOf(db);
  bind(s);
  if (s.Step() != SQLITE_DONE) return ErrorOf(db);
  return {};
}

}  // namespace gateway::store::sqlite
