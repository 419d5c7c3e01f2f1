// The SQLite event log (store/events.h). AppendEventTx lets other repositories of this store
// append events inside their own transaction, so a change and its event commit together.
#pragma once

#include "gateway/store/events.h"
#include "gateway/store/sqlite/sqlite_store.h"

struct sqlite3;

namespace gateway::store::sqlite {

// Inside an open transaction on `db`: fills in id/created_ms when empty and seq, and inserts.
base::Result<void> AppendEventTx(sqlite3* db, EventRow& event);

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
