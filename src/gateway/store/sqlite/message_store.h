// The SQLite messages (store/messages.h). Enqueue uses group commit: callers add their item to a
// shared queue and run a job on the store's pool; the first job to run takes every queued item
// and commits them in one transaction (one fsync), later jobs find theirs already done. So the
// cost of a durable enqueue falls as concurrency rises instead of being one fsync each.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "gateway/store/messages.h"
#include "gateway/store/sqlite/sqlite_store.h"

namespace gateway::store::sqlite {

class SqliteMessageStore final : public MessageStore {
 public:
  explicit SqliteMessageStore(SqliteStore& store) : store_(store) {}

  boost::asio::awaitable<base::Result<EnqueueOutcome>> Enqueue(EnqueueItem item) override;
  boost::asio::awaitable<base::Result<std::optional<MessageRow>>> GetMessage(
      std::string account_id, std::string session_id, std::string id) override;
  boost::asio::awaitable<base::Result<std::vector<MessageRow>>> ListMessages(
      std::string account_id, std::string session_id, std::string direction, std::int64_t before_n,
      int limit) override;
  boost::asio::awaitable<base::Result<std::vector<MessageRow>>> PendingOutgoing(
      std::string session_id, int limit) override;
  boost::asio::awaitable<base::Result<std::vector<EventRow>>> Advance(
      std::string session_id, std::vector<Transition> changes) override;
  boost::asio::awaitable<base::Result<std::vector<EventRow>>> AdvanceByWaIds(
      std::string session_id, std::vector<std::string> wa_ids, std::string status,
      std::int64_t at_ms) override;
  boost::asio::awaitable<base::Result<std::pair<bool, std::vector<EventRow>>>> Cancel(
      std::string session_id, std::string message_id, std::int64_t at_ms) override;
  boost::asio::awaitable<base::Result<std::vector<EventRow>>> FailPending(
      std::string session_id, std::string reason, std::string detail, std::int64_t at_ms) override;
  boost::asio::awaitable<base::Result<Received>> StoreReceived(MessageRow row) override;
  boost::asio::awaitable<base::Result<std::vector<std::pair<std::string, std::int64_t>>>>
  LoggedOutSessions() override;
  boost::asio::awaitable<base::Result<bool>> HasReceivedFrom(std::string session_id,
                                                              std::string chat_jid) override;
  boost::asio::awaitable<base::Result<SendingStats>> Stats(std::string session_id,
                                                           std::int64_t since_ms) override;
  boost::asio::awaitable<base::Result<std::int64_t>> CountOutgoing(std::string account_id,
                                                                  std::int64_t since_ms) override;
  boost::asio::awaitable<base::Result<std::int64_t>> Prune(std::int64_t messages_before_ms,
                                                          std::int64_t keys_before_ms) override;

  // Largest number of enqueues committed in one transaction so far (benchmarks, tests).
  std::size_t largest_batch() const;

 private:
  struct Pending;
  base::Result<void> CommitBatch(sqlite3* db, std::vector<std::shared_ptr<Pending>>& batch);

  SqliteStore& store_;
  mutable std::mutex mu_;
  std::condition_variable committed_;
  std::deque<std::shared_ptr<Pending>> queue_;  // mu_
  std::size_t largest_batch_ = 0;               // mu_
};

}  // namespace gateway::store::sqlite
