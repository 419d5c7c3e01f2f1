#include "gateway/store/sqlite/sqlite_store.h"

#include <sqlite3.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/store/sqlite/sql.h"

namespace gateway::store::sqlite {

namespace {

// A writer that finds the database locked waits for the other writer's commit, which takes a
// few milliseconds (one fsync). SQLite's own busy handler (sqlite3_busy_timeout) sleeps 1, 2,
// 5, ... up to 100 ms between tries, so under steady write load (sends, receives, webhook
// records, fan-out) a waiting writer often slept tens of milliseconds after the lock was free.
// This one retries every 250 us for the first 20 ms, then every millisecond, and gives up
// (SQLITE_BUSY) after about 5 s, as the timeout did.
int RetryWhileBusy(void*, int tries) {
  constexpr int kFastTries = 80;  // 80 x 250 us = 20 ms
  constexpr int kSlowTries = 4980;
  if (tries >= kFastTries + kSlowTries) return 0;
  ::usleep(tries < kFastTries ? 250 : 1000);
  return 1;
}

}  // namespace

// SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 pages: that
// commit (a group-commit batch of the message writer, with every request waiting on it) then also
// copies the WAL into the database file and fsyncs it, tens of milliseconds on this kind of disk.
// Instead each connection's WAL hook (installing one turns the automatic checkpoint off) only
// signals this thread, which runs PASSIVE checkpoints on a connection of its own: they copy what
// no reader still needs without taking the write lock, so writers go on meanwhile. Durability is
// unchanged: a commit is durable once its WAL frames are synced, whoever checkpoints them later.
class SqliteStore::Checkpointer {
 public:
  // The WAL size (pages) from which a checkpoint is asked for: a quarter of SQLite's default.
  // A checkpoint ends with an fsync of the database file, and the message writer's WAL syncs
  // queue behind it on ext4; smaller checkpoints keep those waits short (docs/benchmarks.md,
  // accepted sends: p99 at 5,000/s, median of five runs 4.45 ms with 250 pages, 4.95 ms with
  // 1,000; 8,000 pages gave 8-9 ms).
  static constexpr int kPages = 250;

  explicit Checkpointer(std::filesystem::path path) : path_(std::move(path)), thread_([this] { Loop(); }) {}
  ~Checkpointer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    if (db_) sqlite3_close_v2(db_);
  }

  // For sqlite3_wal_hook: runs on the committing thread after each commit.
  static int Hook(void* self, sqlite3*, const char*, int pages) {
    if (pages >= kPages) static_cast<Checkpointer*>(self)->Request();
    return SQLITE_OK;
  }

  std::uint64_t count() const {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  void Request() {
    {
      std::lock_guard lock(mu_);
      if (requested_) return;
      requested_ = true;
    }
    wake_.notify_one();
  }

  void Loop() {
    for (;;) {
      {
        std::unique_lock lock(mu_);
        wake_.wait(lock, [&] { return stopping_ || requested_; });
        if (stopping_) return;
        requested_ = false;
      }
      // A new connection learns that the file is in WAL mode only when it first reads it;
      // until then a checkpoint is a no-op that reports success.
      if (!db_ && (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                   nullptr) != SQLITE_OK ||
                   sqlite3_exec(db_, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr) != SQLITE_OK)) {
        spdlog::warn("store: cannot open a connection for WAL checkpoints: {}",
                     db_ ? sqlite3_errmsg(db_) : "out of memory");
        sqlite3_close_v2(db_);
        db_ = nullptr;
        continue;
      }
      int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        spdlog::warn("store: WAL checkpoint failed: {}", sqlite3_errmsg(db_));
      }
      std::lock_guard lock(mu_);
      ++count_;
    }
  }

  std::filesystem::path path_;
  sqlite3* db_ = nullptr;  // the checkpoint thread's
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool requested_ = false;  // mu_
  bool stopping_ = false;   // mu_
  std::uint64_t count_ = 0;  // mu_
  std::thread thread_;      // last: starts when the rest is ready
};

// Connections are opened on demand and handed to one pool thread at a time.
class SqliteStore::Connections {
 public:
  Connections(std::filesystem::path path, Checkpointer* checkpointer)
      : path_(std::move(path)), checkpointer_(checkpointer) {}
  ~Connections() {
    for (auto* db : free_) {
      DropStatementCache(db);
      sqlite3_close_v2(db);
    }
  }

  // Opens a configured connection; on failure returns null and explains in *err.
  sqlite3* OpenOne(std::string* err, int* rc_out) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path_.c_str(), &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
      *err = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
      *rc_out = rc;
      sqlite3_close_v2(db);
      return nullptr;
    }
    sqlite3_busy_handler(db, &RetryWhileBusy, nullptr);
    sqlite3_extended_result_codes(db, 1);
    sqlite3_wal_hook(db, &Checkpointer::Hook, checkpointer_);
    // WAL: readers do not block the writer. synchronous=FULL: a committed transaction survives
    // power loss, which "durable before 202" needs. Foreign keys are off by default in SQLite.
    if (!Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
              err)) {
      *rc_out = sqlite3_extended_errcode(db);
      sqlite3_close_v2(db);
      return nullptr;
    }
    RegisterStatementCache(db);
    return db;
  }

  // A connection borrowed for one unit of work; returned to the free list when it ends.
  class Lease {
   public:
    Lease(Connections* owner, sqlite3* db) : owner_(owner), db_(db) {}
    ~Lease() {
      if (db_) owner_->Release(db_);
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    sqlite3* get() const { return db_; }

   private:
    Connections* owner_;
    sqlite3* db_;
  };

  Lease Acquire(std::string* err, int* rc) {
    {
      std::lock_guard lock(mu_);
      if (!free_.empty()) {
        auto* db = free_.back();
        free_.pop_back();
        return Lease(this, db);
      }
    }
    return Lease(this, OpenOne(err, rc));
  }
  void Release(sqlite3* db) {
    std::lock_guard lock(mu_);
    free_.push_back(db);
  }

 private:
  std::filesystem::path path_;
  Checkpointer* checkpointer_;
  std::mutex mu_;
  std::vector<sqlite3*> free_;
};

SqliteStore::SqliteStore(Options options)
    : options_(std::move(options)),
      checkpointer_(std::make_unique<Checkpointer>(options_.path)),
      connections_(std::make_unique<Connections>(options_.path, checkpointer_.get())),
      pool_(static_cast<std::size_t>(options_.threads)) {}

SqliteStore::~SqliteStore() {
  pool_.Stop();
}

base::Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const Options& options,
                                                              std::string* error_text) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  std::string err;
  int rc = 0;
  auto lease = store->connections_->Acquire(&err, &rc);
  sqlite3* db = lease.get();
  if (!db) {
    *error_text = "cannot open database " + options.path.string() + ": " + err;
    return make_error_code(Classify(rc));
  }
  // Opening is lazy in SQLite: read the schema now so a file that is not a database fails here.
  if (!Exec(db, "SELECT count(*) FROM sqlite_schema", &err)) {
    *error_text = "cannot open database " + options.path.string() + ": " + err;
    return make_error_code(Classify(sqlite3_extended_errcode(db)));
  }
  return store;
}

base::Result<std::vector<int>> SqliteStore::Migrate(std::string* error_text) {
  std::string err;
  int rc = 0;
  auto lease = connections_->Acquire(&err, &rc);
  sqlite3* db = lease.get();
  if (!db) {
    *error_text = "cannot open database " + options_.path.string() + ": " + err;
    return make_error_code(Classify(rc));
  }

  auto fail = [&](const std::string& what) -> base::Result<std::vector<int>> {
    int code = sqlite3_extended_errcode(db);
    *error_text = "database " + options_.path.string() + ": " + what;
    return make_error_code(Classify(code));
  };

  if (!Exec(db,
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
            &err)) {
    return fail(err);
  }
  long long current = 0;
  {
    Stmt s(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!s.ok() || s.Step() != SQLITE_ROW) return fail(sqlite3_errmsg(db));
    current = s.Int(0);
  }
  const auto& all = SqliteMigrations();
  int latest = all.empty() ? 0 : all.back().version;
  if (current > latest) {
    *error_text = "database " + options_.path.string() + " has schema version " +
                  std::to_string(current) + " but this wagate knows only up to " +
                  std::to_string(latest) + "; run a newer wagate";
    return make_error_code(Errc::kSchemaTooNew);
  }
  std::vector<int> applied;
  for (const auto& m : all) {
    if (m.version <= current) continue;
    if (!Exec(db, "BEGIN IMMEDIATE", &err)) return fail(err);
    bool ok = Exec(db, m.sql, &err);
    if (ok) {
      Stmt s(db, "INSERT INTO schema_migrations(version, name, applied_at) VALUES(?, ?, unixepoch())");
      s.Bind(1, static_cast<long long>(m.version));
      s.Bind(2, std::string(m.name));
      ok = s.ok() && s.Step() == SQLITE_DONE;
      if (!ok) err = sqlite3_errmsg(db);
    }
    if (!ok || !Exec(db, "COMMIT", &err)) {
      std::string ignored;
      Exec(db, "ROLLBACK", &ignored);
      return fail("migration " + std::to_string(m.version) + " (" + m.name + ") failed: " + err);
    }
    spdlog::info("store: applied migration {} ({})", m.version, m.name);
    applied.push_back(m.version);
  }
  migrations_ = {latest, latest};
  if (!Exec(db,
            "INSERT OR IGNORE INTO meta(key, value) VALUES('instance_id', lower(hex(randomblob(16))));"
            "INSERT OR IGNORE INTO meta(key, value) VALUES('created_at', CAST(unixepoch() AS TEXT));",
            &err)) {
    return fail(err);
  }
  Stmt s(db, "SELECT value FROM meta WHERE key = 'instance_id'");
  if (!s.ok() || s.Step() != SQLITE_ROW) return fail(sqlite3_errmsg(db));
  instance_id_ = s.Text(0);
  return applied;
}

std::uint64_t SqliteStore::checkpoints() const { return checkpointer_->count(); }

base::Result<void> SqliteStore::WithConnection(
    const std::function<base::Result<void>(sqlite3*)>& fn) {
  std::string err;
  int rc = 0;
  auto lease = connections_->Acquire(&err, &rc);
  if (!lease.get()) return make_error_code(Classify(rc));
  return fn(lease.get());
}

base::Result<void> SqliteStore::VerifyMasterKeyCheck(const std::string& check_hex) {
  std::string err;
  int rc = 0;
  auto lease = connections_->Acquire(&err, &rc);
  sqlite3* db = lease.get();
  if (!db) return make_error_code(Classify(rc));
  {
    Stmt ins(db, "INSERT OR IGNORE INTO meta(key, value) VALUES('master_key_check', ?)");
    ins.Bind(1, check_hex);
    if (!ins.ok() || ins.Step() != SQLITE_DONE) return make_error_code(Errc::kIo);
  }
  Stmt s(db, "SELECT value FROM meta WHERE key = 'master_key_check'");
  if (!s.ok() || s.Step() != SQLITE_ROW) return make_error_code(Errc::kIo);
  if (s.Text(0) != check_hex) return make_error_code(Errc::kMasterKeyMismatch);
  return {};
}

boost::asio::awaitable<base::Result<Health>> SqliteStore::Check() {
  co_return co_await pool_.Run([this]() -> base::Result<Health> {
    std::string err;
    int rc = 0;
    auto lease = connections_->Acquire(&err, &rc);
    sqlite3* db = lease.get();
    if (!db) return make_error_code(Classify(rc));
    Stmt s(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!s.ok() || s.Step() != SQLITE_ROW) return make_error_code(Classify(sqlite3_extended_errcode(db)));
    Health h;
    h.driver = "sqlite";
    h.migrations.current = static_cast<int>(s.Int(0));
    h.migrations.latest = migrations_.latest;
    h.instance_id = instance_id_;
    return h;
  });
}

}  // namespace gateway::store::sqlite
