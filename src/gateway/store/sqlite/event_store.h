// The SQLite event log (store/events.h). AppendEventTx lets other repositories of this store
// append events inside their own transaction, so a change and its event commit together.
#pragma once

#include "gateway/store/events.h"
#include "gateway/store/sqlite/sqlite_store.h"

struct sqlite3;

namespace gateway::store::sqlite {

class Stmt;

// Inside an open transaction on `db`: fills in id/created_ms when empty and seq, and inserts.
base::Result<void> AppendEventTx(sqlite3* db, EventRow& event);
// The same with a statement prepared from kInsertEvent (reset by the caller), for batches.
inline constexpr const char* kInsertEvent =
    "INSERT INTO events(id, account_id, session_id, type, data, created_ms) VALUES(?, ?, ?, ?, ?, ?)";
base::Result<void> InsertEvent(sqlite3* db, Stmt& insert, EventRow& event);

class SqliteEventStore final : public EventStore {
 public:
  explicit SqliteEventStore(SqliteStore& store) : store_(store) {}

  boost::asio::awaitable<base::Result<std::vector<EventRow>>> AppendEvents(
      std::vector<EventRow> events) override;
  boost::asio::awaitable<base::Result<std::vector<EventRow>>> EventsAfter(std::int64_t after_seq,
                                                                         int limit) override;
  boost::asio::awaitable<base::Result<std::vector<EventRow>>> SessionEventsAfter(
      std::string account_id, std::string session_id, std::int64_t after_seq, int limit) override;
  boost::asio::awaitable<base::Result<std::optional<std::int64_t>>> EventSeqOf(
      std::string account_id, std::string event_id) override;
  boost::asio::awaitable<base::Result<std::int64_t>> LastEventSeq() override;
  boost::asio::awaitable<base::Result<std::int64_t>> PruneEvents(std::int64_t before_ms,
                                                                std::int64_t max_seq) override;

 private:
  SqliteStore& store_;
};

}  // namespace gateway::store::sqlite
