#include "gateway/store/sqlite/sql.h"

namespace gateway::store::sqlite {

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
