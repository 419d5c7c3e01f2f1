#include "gateway/store/sqlite/event_store.h"

#include <chrono>

#include "gateway/store/ids.h"
#include "gateway/store/sqlite/on_pool.h"
#include "gateway/store/sqlite/sql.h"

namespace gateway::store::sqlite {

namespace asio = boost::asio;

namespace {

constexpr const char* kColumns = "seq, id, account_id, session_id, type, data, created_ms";

EventRow Read(Stmt& s) {
  EventRow e;
  e.seq = s.Int(0);
  e.id = s.Text(1);
  e.account_id = s.Text(2);
  e.session_id = s.Text(3);
  e.type = s.Text(4);
  e.data = s.Text(5);
  e.created_ms = s.Int(6);
  return e;
}

base::Result<std::vector<EventRow>> Collect(sqlite3* db, Stmt& s) {
  if (!s.ok()) return ErrorOf(db);
  std::vector<EventRow> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(Read(s));
  if (rc != SQLITE_DONE) return ErrorOf(db);
  return out;
}

}  // namespace

base::Result<void> AppendEventTx(sqlite3* db, EventRow& event) {
  Stmt s(db, kInsertEvent);
  if (!s.ok()) return ErrorOf(db);
  return InsertEvent(db, s, event);
}

base::Result<void> InsertEvent(sqlite3* db, Stmt& s, EventRow& event) {
  if (event.id.empty()) event.id = NewOrderedId("evt_");
  if (event.created_ms == 0) {
    event.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  }
  s.Bind(1, event.id);
  s.Bind(2, event.account_id);
  s.Bind(3, event.session_id);
  s.Bind(4, event.type);
  s.Bind(5, event.data);
  s.Bind(6, static_cast<long long>(event.created_ms));
  if (s.Step() != SQLITE_DONE) return ErrorOf(db);
  event.seq = sqlite3_last_insert_rowid(db);
  return {};
}

asio::awaitable<base::Result<std::vector<EventRow>>> SqliteEventStore::AppendEvents(
    std::vector<EventRow> events) {
  auto fn = [events = std::move(events)](sqlite3* db) -> base::Result<std::vector<EventRow>> {
    std::vector<EventRow> rows = events;
    auto done = InTransaction(db, [&]() -> base::Result<void> {
      for (auto& e : rows) {
        if (auto added = AppendEventTx(db, e); !added) return added;
      }
      return {};
    });
    if (!done) return done.error();
    return rows;
  };
  co_return co_await OnPool<std::vector<EventRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<EventRow>>> SqliteEventStore::EventsAfter(
    std::int64_t after_seq, int limit) {
  auto fn = [=](sqlite3* db) -> base::Result<std::vector<EventRow>> {
    std::string sql = std::string("SELECT ") + kColumns + " FROM events WHERE seq > ? ORDER BY seq LIMIT ?";
    Stmt s(db, sql.c_str());
    s.Bind(1, static_cast<long long>(after_seq));
    s.Bind(2, static_cast<long long>(limit));
    return Collect(db, s);
  };
  co_return co_await OnPool<std::vector<EventRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::vector<EventRow>>> SqliteEventStore::SessionEventsAfter(
    std::string account_id, std::string session_id, std::int64_t after_seq, int limit) {
  auto fn = [=](sqlite3* db) -> base::Result<std::vector<EventRow>> {
    std::string sql = std::string("SELECT ") + kColumns +
                      " FROM events WHERE account_id = ? AND session_id = ? AND seq > ? "
                      "ORDER BY seq LIMIT ?";
    Stmt s(db, sql.c_str());
    s.Bind(1, account_id);
    s.Bind(2, session_id);
    s.Bind(3, static_cast<long long>(after_seq));
    s.Bind(4, static_cast<long long>(limit));
    return Collect(db, s);
  };
  co_return co_await OnPool<std::vector<EventRow>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::optional<std::int64_t>>> SqliteEventStore::EventSeqOf(
    std::string account_id, std::string event_id) {
  auto fn = [=](sqlite3* db) -> base::Result<std::optional<std::int64_t>> {
    Stmt s(db, "SELECT seq FROM events WHERE id = ? AND account_id = ?");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, event_id);
    s.Bind(2, account_id);
    int rc = s.Step();
    if (rc == SQLITE_ROW) return std::optional<std::int64_t>(s.Int(0));
    if (rc != SQLITE_DONE) return ErrorOf(db);
    return std::optional<std::int64_t>();
  };
  co_return co_await OnPool<std::optional<std::int64_t>>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::int64_t>> SqliteEventStore::LastEventSeq() {
  auto fn = [](sqlite3* db) -> base::Result<std::int64_t> {
    // The sequence table remembers the highest seq even after pruning emptied the log.
    Stmt s(db, "SELECT seq FROM sqlite_sequence WHERE name = 'events'");
    if (!s.ok()) return ErrorOf(db);
    int rc = s.Step();
    if (rc == SQLITE_ROW) return static_cast<std::int64_t>(s.Int(0));
    if (rc != SQLITE_DONE) return ErrorOf(db);
    return std::int64_t{0};
  };
  co_return co_await OnPool<std::int64_t>(store_, std::move(fn));
}

asio::awaitable<base::Result<std::int64_t>> SqliteEventStore::PruneEvents(std::int64_t before_ms,
                                                                        std::int64_t max_seq) {
  auto fn = [=](sqlite3* db) -> base::Result<std::int64_t> {
    Stmt s(db, "DELETE FROM events WHERE created_ms < ? AND seq <= ?");
    if (!s.ok()) return ErrorOf(db);
    s.Bind(1, static_cast<long long>(before_ms));
    s.Bind(2, static_cast<long long>(max_seq));
    if (s.Step() != SQLITE_DONE) return ErrorOf(db);
    return static_cast<std::int64_t>(sqlite3_changes(db));
  };
  co_return co_await OnPool<std::int64_t>(store_, std::move(fn));
}

}  // namespace gateway::store::sqlite
