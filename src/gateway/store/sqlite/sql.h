// Small helpers over the SQLite C API shared by the SQLite store's files: running a script,
// mapping result codes to store::Errc, and a prepared statement that finalizes itself.
// Private to gateway/store/sqlite.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "gateway/store/store.h"

namespace gateway::store::sqlite {

// Runs SQL with no result rows; fills `err` with SQLite's message on failure.
bool Exec(sqlite3* db, const char* sql, std::string* err);

Errc Classify(int rc);
// The error for the last failure on `db`.
inline boost::system::error_code ErrorOf(sqlite3* db) {
  return make_error_code(Classify(sqlite3_extended_errcode(db)));
}

// Prepared statements kept per connection, so that a statement run again on the same
// connection is not parsed and planned again (preparing was a quarter of the gateway's CPU under
// load). The store registers the connections it pools; Stmt takes from and returns to the
// cache of a registered connection and prepares as usual on any other.
class StatementCache;
void RegisterStatementCache(sqlite3* db);
// Finalizes the connection's cached statements: before it closes.
void DropStatementCache(sqlite3* db);
// The cache of `db`, or null when it is not registered.
StatementCache* StatementCacheOf(sqlite3* db);
// A cached statement for exactly `sql` (reset, no bindings), or null.
sqlite3_stmt* TakeCached(StatementCache* cache, const char* sql);
// Keeps `s` for the next use of its SQL text; false when the cache does not take it (full, or
// one is already kept), and the caller finalizes it.
bool KeepCached(StatementCache* cache, sqlite3_stmt* s);

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : cache_(StatementCacheOf(db)) {
    if (cache_ && (s_ = TakeCached(cache_, sql))) {
      rc_ = prepared_ = SQLITE_OK;
      return;
    }
    rc_ = prepared_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
  }
  ~Stmt() {
    if (s_ && cache_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
      if (KeepCached(cache_, s_)) return;
    }
    sqlite3_finalize(s_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  // Whether it prepared; stays true after steps (a statement is reused after Reset).
  bool ok() const { return prepared_ == SQLITE_OK; }
  int rc() const { return rc_; }  // of the last call
  sqlite3_stmt* get() { return s_; }

  // Bound values are copied (SQLITE_TRANSIENT): arguments may be temporaries.
  void Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, const std::string& v) { Bind(i, std::string_view(v)); }
  void Bind(int i, const char* v) { Bind(i, std::string_view(v)); }
  void Bind(int i, long long v) { sqlite3_bind_int64(s_, i, v); }
  void BindBlob(int i, base::ByteView v) {
    // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
    static const std::uint8_t kEmpty = 0;
    sqlite3_bind_blob(s_, i, v.empty() ? &kEmpty : v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
  }
  int Step() { return rc_ = sqlite3_step(s_); }
  // Makes the statement ready for new bindings.
  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  std::string Text(int col) {
    auto* p = sqlite3_column_text(s_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, col)) : "";
  }
  long long Int(int col) { return sqlite3_column_int64(s_, col); }
  base::Bytes Blob(int col) {
    auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(s_, col));
    int n = sqlite3_column_bytes(s_, col);
    return p ? base::Bytes(p, p + n) : base::Bytes();
  }

 private:
  StatementCache* cache_;
  sqlite3_stmt* s_ = nullptr;
  int prepared_;
  int rc_;
};

// Prepares `sql`, lets `bind` bind its parameters and runs it to completion (no result rows).
base::Result<void> Change(sqlite3* db, const char* sql, const std::function<void(Stmt&)>& bind);

// Runs `fn` inside BEGIN IMMEDIATE ... COMMIT; rolls back when `fn` or the commit fails.
base::Result<void> InTransaction(sqlite3* db, const std::function<base::Result<void>()>& fn);

}  // namespace gateway::store::sqlite
