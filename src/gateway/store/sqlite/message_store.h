// The SQLite messages (store/messages.h). Every write (enqueue, status change, received message)
// uses group commit: callers add a job to a queue that one writer thread drains, committing
// everything queued in one transaction with statements prepared once, then resuming each caller
// on its own executor. So the cost of a durable write falls as load rises instead of being one
// fsync each, writes keep their order, and they never occupy the store's pool, which stays free
// for reads. A job that fails is retried alone, so it fails by itself.
//
// The sync is pipelined: the writer commits without waiting for the disk (synchronous=NORMAL on
// its connection) and a second thread syncs the WAL file after each commit, then finishes the
// jobs that wait for durability. So the writer prepares the next batch while the disk syncs the
// last one, and a job that only needs its commit (a Signal state step) is not held by the sync.
// WAL recovery keeps a prefix of the commits, so a power loss undoes at most the unsynced tail,
// never part of a transaction and never a synced one.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "gateway/store/messages.h"
#include "gateway/store/sqlite/sqlite_store.h"

namespace gateway::store::sqlite {

class SqliteMessageStore final : public MessageStore, public GroupWriter {
 public:
  // Makes every commit so far durable; false when the disk refused. Tests replace the default
  // (fdatasync of the WAL file) to hold syncs back.
  using SyncFn = std::function<bool()>;
  explicit SqliteMessageStore(SqliteStore& store, SyncFn sync = nullptr);
  ~SqliteMessageStore() override;

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
  boost::asio::awaitable<base::Result<std::vector<std::string>>> SessionsWithExpired(
      std::int64_t now_ms) override;
  boost::asio::awaitable<base::Result<std::vector<EventRow>>> ExpireQueued(std::string session_id,
                                                                           std::int64_t at_ms) override;
  boost::asio::awaitable<base::Result<Received>> StoreReceived(MessageRow row) override;
  boost::asio::awaitable<base::Result<std::int64_t>> StoreHistory(std::vector<MessageRow> rows) override;
  boost::asio::awaitable<base::Result<std::vector<std::pair<std::string, std::int64_t>>>>
  LoggedOutSessions() override;
  boost::asio::awaitable<base::Result<bool>> HasReceivedFrom(std::string session_id,
                                                              std::string chat_jid) override;
  boost::asio::awaitable<base::Result<std::pair<std::int64_t, std::int64_t>>> QueueTotals() override;
  boost::asio::awaitable<base::Result<SendingStats>> Stats(std::string session_id,
                                                           std::int64_t since_ms) override;
  boost::asio::awaitable<base::Result<std::int64_t>> CountOutgoing(std::string account_id,
                                                                  std::int64_t since_ms) override;
  boost::asio::awaitable<base::Result<std::int64_t>> Prune(std::int64_t messages_before_ms,
                                                          std::int64_t keys_before_ms) override;

  // HasReceivedFrom's query: two index lookups (the chat; the sender's phone number), not the
  // OR of both, for which SQLite scans every received message of the session.
  static constexpr const char* kReceivedFromSql =
      "SELECT 1 FROM messages WHERE session_id = ?1 AND direction = 'in' AND chat_jid = ?2 "
      "UNION ALL SELECT 1 FROM messages WHERE session_id = ?1 AND direction = 'in' AND sender_pn = ?2 "
      "AND sender_pn != '' LIMIT 1";

  // Largest number of writes committed in one transaction so far (benchmarks, tests).
  std::size_t largest_batch() const;
  // Syncs run by the sync thread so far (tests).
  std::uint64_t syncs() const;

  // Runs in every batch's transaction after its writes, on the writer thread (the webhook
  // fan-out: delivery rows commit with the events they are made for). When it fails, what it
  // wrote is rolled back and the batch commits without it (its work is left to its owner's own
  // path). Set it before the first write.
  // What it returns (may be empty) runs on the writer thread once that transaction committed,
  // never after a rollback.
  using AfterCommit = std::function<void()>;
  using TransactionHook = std::function<base::Result<AfterCommit>(sqlite3*)>;
  void SetTransactionHook(TransactionHook hook);

  class Statements;

 private:
  // Writes share the writer's transaction; `apply` runs inside it, `finish` after the commit
  // (or with the error), both on the writer thread.
  struct Job {
    WriteFn apply;
    DoneFn finish;
    Wait wait = Wait::kDurable;
  };
  // A committed transaction on its way to the disk: what waits for its sync.
  struct Committed {
    std::vector<DoneFn> durable;
    AfterCommit after;
  };
  // Runs `fn` with the writer's statements in its next transaction.
  template <class T>
  boost::asio::awaitable<base::Result<T>> Write(std::function<base::Result<T>(Statements&)> fn);
  void Push(Job job);

 public:
  // GroupWriter: other repositories' writes in the same transactions as the messages'.
  void Submit(WriteFn apply, DoneFn finish, Wait wait) override;

 private:
  void WriterLoop();
  // Waits for queued jobs and takes them all (and the hook to run with them); false when
  // stopping with none left.
  bool NextBatch(std::vector<Job>& batch, TransactionHook& hook);
  void RunBatch(sqlite3* db, Statements& st, std::vector<Job>& batch, const TransactionHook& hook);
  // After a commit: finishes what needs only the commit and hands the rest to the sync thread
  // (or, when commits are synced by SQLite itself, finishes everything).
  void Settle(std::vector<DoneFn> committed, std::vector<DoneFn> durable, AfterCommit after);
  void SyncLoop();
  bool SyncWal();

  SqliteStore& store_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Job> queue_;       // mu_
  bool stopping_ = false;        // mu_
  std::size_t largest_batch_ = 0;  // mu_
  TransactionHook in_transaction_;  // mu_
  Statements* statements_ = nullptr;  // the writer thread's, during a batch
  // Whether the writer's connection commits without syncing (WAL mode, synchronous=NORMAL): the
  // sync thread then makes each commit durable. The writer thread's.
  bool deferred_sync_ = false;
  std::string wal_path_;  // the writer's, read by the sync thread once it has work (sync_mu_)

  SyncFn sync_;
  mutable std::mutex sync_mu_;
  std::condition_variable sync_wake_;
  std::deque<Committed> unsynced_;  // sync_mu_
  bool sync_stopping_ = false;      // sync_mu_
  std::uint64_t syncs_ = 0;         // sync_mu_
  int wal_fd_ = -1;                 // the sync thread's
  unsigned long wal_inode_ = 0;     // the sync thread's
  std::thread syncer_;
  std::thread writer_;
};

}  // namespace gateway::store::sqlite
